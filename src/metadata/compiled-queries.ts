/**
 * Queries of the hot paths (every batch request, every upload's link) built and compiled by
 * Kysely once, by name; each run supplies its parameters, in the order the SQL takes them.
 *
 * Why: building and compiling a Kysely query cost more than SQLite takes to run a primary-key
 * lookup, and about half as much as the lookup of a hundred oids; an upload's link is seven
 * statements, which cost ~0.25 ms of CPU to build per upload.
 */
import type { Compilable, CompiledQuery, QueryResult } from 'kysely';

/** anything that runs a compiled query: the database, a transaction or a connection */
export interface RunsCompiled {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

export class CompiledQueries {
  readonly #compiled = new Map<string, CompiledQuery<unknown>>();

  /**
   * Runs the query named `name` on `executor` with `parameters`; `build` makes it the first time.
   * The count of parameters is checked against the compiled SQL, so a query whose shape depends
   * on its values (an IN list) must carry that shape in its name.
   */
  async run<R>(
    executor: RunsCompiled,
    name: string,
    build: () => Compilable<R>,
    parameters: readonly unknown[],
  ): Promise<QueryResult<R>> {
    let query = this.#compiled.get(name) as CompiledQuery<R> | undefined;
    if (!query) {
      query = build().compile();
      if (query.parameters.length !== parameters.length) {
        throw new Error(
          `query ${name} takes ${query.parameters.length} parameters, not ${parameters.length}`,
        );
      }
      this.#compiled.set(name, query);
    }
    return executor.executeQuery<R>({ ...query, parameters });
  }
}
