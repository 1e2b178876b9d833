export interface PolicyConfigIssue {
  /** Relative to the policies array, e.g. [0, 'config', 'header']. */
  path: (string | number)[];
  message: string;
}

/** A policy chain that cannot be compiled; carries every problem, not just the first. */
export class PolicyConfigError extends Error {
  constructor(readonly issues: PolicyConfigIssue[]) {
    super(`invalid policy configuration: ${issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'PolicyConfigError';
  }
}
