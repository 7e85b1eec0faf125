/**
 * IAM fidelity for the local runtime: each route's DynamoDB client checks every call against
 * that route's grants in lib/routes.ts — the same grants the stack turns into IAM — so a handler
 * that starts touching an undeclared table or index fails the local suite instead of failing on
 * AWS with AccessDenied.
 */
import type { Item } from '../lambdas/stores/dynamo';
import { DYNAMODB_ACTIONS, type Grants, type RouteDef, type SnsAction } from '../lib/routes';
import type { Deps, PushEndpoints } from '../lambdas/domain/context';
import type { ConnectionGateway } from '../lambdas/gateways/connection-gateway';
import type { TableName } from '../lib/tables';

export interface GrantViolation {
  /** The route key or worker name. */
  scope: string;
  operation: string;
  /** The DynamoDB table, for DynamoDB calls. */
  table?: string;
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

/** What a route may do beyond DynamoDB, as its line in lib/routes.ts says (workers: SNS only). */
export type OtherGrants = Partial<Pick<RouteDef, 'postsToConnections' | 'sns' | 'invokes'>>;

/**
 * The same fidelity for the rest of a route's IAM: posting to connections, the SNS actions and
 * the workers it may start. A call outside them is refused (and reported) as AWS would refuse
 * it — where the code swallows such failures (a push not started), they would otherwise be lost
 * silently on AWS only.
 */
export function scopedPorts(
  scope: string,
  grants: OtherGrants,
  deps: Pick<Deps, 'gatewayFor' | 'push' | 'invokeWorker'>,
  report: (v: GrantViolation) => void,
): Pick<Deps, 'gatewayFor' | 'push' | 'invokeWorker'> {
  const deny = (operation: string): never => {
    report({ scope, operation });
    throw new AccessDeniedError(`${scope} is not authorized to perform: ${operation} (lib/routes.ts)`);
  };
  const sns = (...actions: SnsAction[]) => {
    for (const a of actions) if (!(grants.sns ?? []).includes(a)) deny(`sns:${a}`);
  };
  const denied: ConnectionGateway = {
    post: async () => deny('execute-api:ManageConnections (POST)'),
    disconnect: async () => deny('execute-api:ManageConnections (DELETE)'),
  };
  const push = deps.push;
  const checkedPush: PushEndpoints | undefined = push && {
    async ensureEndpoint(app, token, clientId, opts) {
      sns('CreatePlatformEndpoint', 'GetEndpointAttributes', 'SetEndpointAttributes', ...(opts.moved ? (['DeleteEndpoint'] as const) : []));
      return push.ensureEndpoint(app, token, clientId, opts);
    },
    async deleteEndpoint(endpoint) {
      sns('DeleteEndpoint');
      return push.deleteEndpoint(endpoint);
    },
    async publish(endpoint, message) {
      sns('Publish');
      return push.publish(endpoint, message);
    },
  };
  return {
    gatewayFor: (endpoint) => (grants.postsToConnections ? deps.gatewayFor(endpoint) : denied),
    push: checkedPush,
    invokeWorker: async (name, payload) => {
      if (!(grants.invokes ?? []).includes(name)) deny(`lambda:InvokeFunction (${name})`);
      return deps.invokeWorker(name, payload);
    },
  };
}
