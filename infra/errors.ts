/** A component argument that would deploy something broken; thrown before any resource is created. */
export class InfraConfigError extends Error {
  override readonly name = 'InfraConfigError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
