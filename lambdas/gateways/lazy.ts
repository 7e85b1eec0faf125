/**
 * A value made on first use and shared afterwards. The gateways load each AWS SDK client package
 * and build its client this way, only when a request first needs it, since loading one costs
 * tens of milliseconds of cold start for every route whose bundle contains it.
 *
 * They load the package with `require`, not `import()`: the Lambda bundles are CommonJS with the
 * SDK left external (the runtime ships it), and esbuild keeps an `import()` as an ES import,
 * resolved differently from the `require`s a static import becomes.
 */
export class Lazy<T> {
  private made: { value: T } | undefined;

  constructor(private readonly make: () => T) {}

  /** The value, made now if it does not exist yet; a `make` that throws is tried again next time. */
  get(): T {
    this.made ??= { value: this.make() };
    return this.made.value;
  }

  /** The value if it was ever made, without making it; and forgets it. */
  take(): T | undefined {
    const made = this.made;
    this.made = undefined;
    return made?.value;
  }
}
