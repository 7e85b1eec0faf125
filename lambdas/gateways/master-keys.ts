/**
 * The master keys that verify signatures (`Deps.masterKeys`): current first, then one being
 * rotated out. On AWS they come from a Secrets Manager secret, whose SDK is loaded and client
 * built on the first read, so routes that never verify a signature pay neither at cold start.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../domain/context';
import { Lazy } from './lazy';

type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');

/** Master keys from the environment (local runs and tests). */
export function envMasterKeys(config: Config): () => Promise<string[]> {
  const keys = [config.masterKey, config.previousMasterKey].filter((k): k is string => !!k);
  return async () => keys;
}

/**
 * A Secrets Manager secret holding either the key itself or `{"current": "…", "previous": "…"}`
 * (during a rotation). Read on first use and cached for the container's life; a read that fails
 * is retried on the next request rather than cached.
 */
export function secretMasterKeys(secretId: string, fetch: (id: string) => Promise<string | undefined>): () => Promise<string[]> {
  let cachedKeys: Promise<string[]> | undefined;
  return () => {
    cachedKeys ??= fetch(secretId)
      .then((value) => {
        if (!value) return [];
        try {
          const parsed = JSON.parse(value) as { current?: unknown; previous?: unknown };
          if (typeof parsed === 'object' && parsed !== null && typeof parsed.current === 'string') {
            return [parsed.current, parsed.previous].filter((k): k is string => typeof k === 'string' && k.length > 0);
          }
        } catch {
          // not JSON: the whole string is the key
        }
        return [value];
      })
      .catch((err: unknown) => {
        cachedKeys = undefined;
        throw err;
      });
    return cachedKeys;
  };
}

/** Reads a secret's string value from Secrets Manager (the `fetch` of `secretMasterKeys`). */
export function secretsManagerReader(): (secretId: string) => Promise<string | undefined> {
  const sdk = new Lazy<{ secrets: SecretsManagerSdk; client: SecretsManagerClient }>(() => {
    const secrets = require('@aws-sdk/client-secrets-manager') as SecretsManagerSdk;
    return { secrets, client: new secrets.SecretsManagerClient({}) };
  });
  return async (secretId) => {
    const { secrets, client } = sdk.get();
    return (await client.send(new secrets.GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  };
}
