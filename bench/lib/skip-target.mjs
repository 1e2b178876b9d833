/** Thrown by a target that cannot run on this machine; the report shows the reason instead of numbers. */
export class SkipTarget extends Error {}
