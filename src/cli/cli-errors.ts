/** A bad command line: the message says which flag and why; main prints it with the usage and exits 2. */
export class CliUsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'CliUsageError';
  }
}
