// Specs read untyped JSON answers and assert on them (ESLint lets tests use `any` for the same
// reason): there `res.json()` is the input the assertions check, so it is `any`, not `unknown`.
interface Response {
  json(): Promise<any>;
}
