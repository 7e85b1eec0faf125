/**
 * IAM fidelity for the local runtime: each route's DynamoDB client checks every call against
 * that route's grants in lib/routes.ts — the same grants the stack turns into IAM — so a handler
 * that starts touching an undeclared table or index fails the local suite instead of failing on
 * AWS with AccessDenied.
 */
import type { Item } from '../lambdas/stores/dynamo';
import { DYNAMODB_ACTIONS, type Grants } from '../lib/routes';
import type { TableName } from '../lib/tables';

export interface GrantViolation {
  /** The route key or worker name. */
  scope: string;
  operation: string;
  table: string;
  index?: string;
}

/** What AWS answers a call the role does not allow. */
export class AccessDeniedError extends Error {
  override readonly name = 'AccessDeniedException';
}

/** The tables (and index) one low-level DynamoDB call touches. */
function touched(input: Item): { tables: string[]; index?: string } {
  if (typeof input.TableName === 'string') {
    return { tables: [input.TableName], ...(typeof input.IndexName === 'string' ? { index: input.IndexName } : {}) };
  }
  const items = input.RequestItems;
  return { tables: items && typeof items === 'object' ? Object.keys(items) : [] };
}

/**
 * The check for one route: throws AccessDeniedError (and reports it) for a call its grants do
 * not cover. `physical` maps the deployment's table names back to the logical ones.
 */
export function grantCheck(
  scope: string,
  grants: Grants,
  physical: Record<TableName, string>,
  report: (v: GrantViolation) => void,
): (operation: string, input: Item) => void {
  const logical = new Map(Object.entries(physical).map(([name, p]) => [p, name as TableName]));
  const known = new Set([...DYNAMODB_ACTIONS.r, ...DYNAMODB_ACTIONS.w, 'Scan']);
  return (operation, input) => {
    const { tables, index } = touched(input);
    const deny = (table: string, name: TableName | undefined) => {
      const v: GrantViolation = { scope, operation, table: name ?? table, ...(index ? { index } : {}) };
      report(v);
      throw new AccessDeniedError(
        `${scope} is not authorized to perform: dynamodb:${operation} on ${name ?? table}${index ? `/index/${index}` : ''} (lib/routes.ts)`,
      );
    };
    // No route is granted anything else (transactions, PartiQL, table management): IAM denies it.
    if (!known.has(operation) || tables.length === 0) deny(tables[0] ?? '*', undefined);
    for (const table of tables) {
      const name = logical.get(table);
      const access = name ? grants.tables[name] : undefined;
      const allowed =
        name !== undefined &&
        (operation === 'Scan'
          ? // Scan is granted on the table only, never on an index.
            index === undefined && (grants.scans ?? []).includes(name)
          : index !== undefined
            ? // Index ARNs are granted only for tables the route lists.
              operation === 'Query' && access !== undefined && (grants.indexes ?? []).includes(`${name}.${index}`)
            : (DYNAMODB_ACTIONS.r.includes(operation) && access?.includes('r') === true) ||
              (DYNAMODB_ACTIONS.w.includes(operation) && access?.includes('w') === true));
      if (!allowed) deny(table, name);
    }
  };
}
