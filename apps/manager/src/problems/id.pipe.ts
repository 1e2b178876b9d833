import { PipeTransform } from '@nestjs/common';
import { ProblemError } from './problem.error';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Path ids are UUIDs; anything else is a 400 before it reaches the database. */
export class IdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!UUID.test(value)) throw new ProblemError(400, 'invalid_id', 'Invalid id', `'${value.slice(0, 64)}' is not a UUID`);
    return value.toLowerCase();
  }
}
