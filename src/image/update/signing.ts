/**
 * Commit signing from `spec.git.commit.signingKey`: OpenPGP through gpg with a private, per-run
 * GNUPGHOME, or SSH through git's `gpg.format=ssh`. Key material only ever lives in files
 * (0600) inside the session's private directory, which is removed after the run.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GitSession } from './git.js';
import type { SigningKey } from './types.js';

export class SigningError extends Error {
  override readonly name = 'SigningError';
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function prepareSigning(
  session: GitSession,
  key: SigningKey,
  secret: Readonly<Record<string, string>> | undefined,
): Promise<{ config: string[] }> {
  const field = 'spec.git.commit.signingKey.secretRef';
  if (!secret) throw new SigningError(`${field}: Secret ${key.secretRef.name} not found`);
  return key.type === 'ssh' ? sshSigning(session, secret, field) : gpgSigning(session, secret, field);
}

async function sshSigning(session: GitSession, secret: Readonly<Record<string, string>>, field: string): Promise<{ config: string[] }> {
  const identity = secret.identity;
  if (!identity) throw new SigningError(`${field}: Secret has no 'identity' key`);
  if (!identity.includes('BEGIN OPENSSH PRIVATE KEY')) throw new SigningError(`${field}: 'identity' is not an OpenSSH private key`);
  if (secret.password) throw new SigningError(`${field}: passphrase-protected SSH signing keys are not supported yet; remove 'password' and use an unencrypted key`);
  const file = join(session.root, 'signing-key');
  await writeFile(file, identity.endsWith('\n') ? identity : `${identity}\n`, { mode: 0o600 });
  return { config: ['gpg.format=ssh', `user.signingkey=${file}`] };
}

async function gpgSigning(session: GitSession, secret: Readonly<Record<string, string>>, field: string): Promise<{ config: string[] }> {
  const armored = secret['git.asc'];
  if (!armored) throw new SigningError(`${field}: Secret has no 'git.asc' key`);
  const home = join(session.root, 'gnupg');
  await mkdir(home, { mode: 0o700 });
  const keyFile = join(session.root, 'signing-key.asc');
  await writeFile(keyFile, armored, { mode: 0o600 });
  const passphrase = secret.passphrase;
  const base = ['--homedir', home, '--batch', '--no-tty', '--pinentry-mode', 'loopback'];
  if (passphrase) {
    session.addSecret(passphrase);
    const passFile = join(session.root, 'signing-passphrase');
    await writeFile(passFile, passphrase, { mode: 0o600 });
    base.push('--passphrase-file', passFile);
  }
  session.cleanups.push(async () => {
    await session.run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
  });
  try {
    await session.run('gpg', [...base, '--import', keyFile]);
  } catch {
    throw new SigningError(`${field}: 'git.asc' could not be imported as an OpenPGP private key`);
  }
  const listing = await session.run('gpg', [...base, '--with-colons', '--list-secret-keys']);
  const fingerprint = /^fpr:(?:[^:]*:){8}([0-9A-F]{40,64}):/m.exec(listing)?.[1];
  if (!fingerprint) throw new SigningError(`${field}: 'git.asc' holds no secret key`);
  // git calls gpg.program with its own arguments; the wrapper adds the private home and passphrase.
  const wrapper = join(session.root, 'gpg-sign');
  await writeFile(wrapper, `#!/bin/sh\nexec gpg ${base.map(shellQuote).join(' ')} "$@"\n`, { mode: 0o700 });
  await chmod(wrapper, 0o700);
  return { config: [`gpg.program=${wrapper}`, `user.signingkey=${fingerprint}`] };
}
