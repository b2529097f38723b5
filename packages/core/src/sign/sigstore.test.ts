import { createPublicKey, generateKeyPairSync, randomBytes, scryptSync, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { WharfError } from '../errors.js';
import type { Digest } from '../oci/index.js';
import {
  COSIGN_SIGN_PREDICATE,
  keyHint,
  loadPrivateKey,
  loadPublicKey,
  preAuthEncoding,
  statementFor,
  statementSigner,
} from './sigstore.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-sigstore-'));
const digest = `sha256:${'ab'.repeat(32)}` as Digest;

function p256(name: string, type: 'pkcs8' | 'sec1', passphrase?: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  writeFileSync(
    key,
    privateKey.export(
      passphrase ? { format: 'pem', type, cipher: 'aes-256-cbc', passphrase } : { format: 'pem', type },
    ),
  );
  writeFileSync(pub, publicKey.export({ format: 'pem', type: 'spki' }));
  return { key, pub, publicKey };
}

describe('sign/sigstore', () => {
  it('PAE is the DSSE spec example byte for byte', () => {
    expect(preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
  });

  it('signs a statement with a SEC1 or PKCS#8 key: a v0.3 DSSE bundle whose signature is over PAE', async () => {
    for (const type of ['sec1', 'pkcs8'] as const) {
      const { key, publicKey } = p256(`k-${type}`, type);
      const signer = await statementSigner({ kind: 'key', keyFile: key });
      const statement = statementFor('registry.example.com/app', digest, COSIGN_SIGN_PREDICATE, {});
      const bundle = (await signer.sign(statement)) as {
        mediaType: string;
        verificationMaterial: { publicKey: { hint: string } };
        dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string }[] };
      };
      expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
      expect(bundle.verificationMaterial.publicKey.hint).toBe(keyHint(publicKey));
      const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
      expect(JSON.parse(payload.toString())).toEqual(statement);
      const pae = preAuthEncoding(bundle.dsseEnvelope.payloadType, payload);
      const sig = Buffer.from(bundle.dsseEnvelope.signatures[0]?.sig ?? '', 'base64');
      expect(verify('sha256', pae, publicKey, sig)).toBe(true);
    }
  });

  it('an encrypted PKCS#8 key needs its password; other key kinds are refused with the fix', async () => {
    const { key } = p256('enc', 'pkcs8', 'sesame');
    await expect(loadPrivateKey(key)).rejects.toThrow(/is encrypted and no password was given/);
    await expect(loadPrivateKey(key, 'wrong')).rejects.toThrow(/the wrong password/);
    expect((await loadPrivateKey(key, 'sesame')).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const ed = join(dir, 'ed.key');
    writeFileSync(ed, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const error = await loadPrivateKey(ed).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WharfError);
    expect((error as WharfError).message).toBe(
      `signing key ${ed} is a ed25519 key; wharf signs with ECDSA P-256`,
    );
    expect((error as WharfError).hint).toContain('openssl ecparam -name prime256v1');
    await expect(loadPrivateKey(join(dir, 'missing.key'))).rejects.toThrow(/cannot be read/);
  });

  it("reads cosign's encrypted key format (scrypt + NaCl secretbox over PKCS#8) with COSIGN_PASSWORD", async () => {
    // made here from the format cosign documents, with tweetnacl and Node's scrypt, not with wharf's reader
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const write = (name: string, password: string, label = 'SIGSTORE', params = { N: 32768, r: 8, p: 1 }) => {
      const salt = randomBytes(32);
      const nonce = randomBytes(24);
      const box = scryptSync(password, salt, 32, { ...params, maxmem: 64 * 1024 * 1024 });
      const der = privateKey.export({ format: 'der', type: 'pkcs8' });
      const ciphertext = nacl.secretbox(new Uint8Array(der), new Uint8Array(nonce), new Uint8Array(box));
      const json = JSON.stringify({
        kdf: { name: 'scrypt', params, salt: salt.toString('base64') },
        cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
        ciphertext: Buffer.from(ciphertext).toString('base64'),
      });
      const body = Buffer.from(json).toString('base64').replace(/.{64}/g, '$&\n');
      const file = join(dir, name);
      writeFileSync(
        file,
        `-----BEGIN ENCRYPTED ${label} PRIVATE KEY-----\n${body}\n-----END ENCRYPTED ${label} PRIVATE KEY-----\n`,
      );
      return file;
    };
    const key = write('cosign.key', 'sesame');
    const loaded = await loadPrivateKey(key, 'sesame');
    expect(keyHint(createPublicKey(loaded))).toBe(keyHint(publicKey));
    const signer = await statementSigner({ kind: 'key', keyFile: key, passphrase: 'sesame' });
    const bundle = (await signer.sign(statementFor('r.example/app', digest, COSIGN_SIGN_PREDICATE, {}))) as {
      dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string }[] };
    };
    const pae = preAuthEncoding(
      bundle.dsseEnvelope.payloadType,
      Buffer.from(bundle.dsseEnvelope.payload, 'base64'),
    );
    const sig = Buffer.from(bundle.dsseEnvelope.signatures[0]?.sig ?? '', 'base64');
    expect(verify('sha256', pae, publicKey, sig)).toBe(true);

    await expect(loadPrivateKey(key, 'wrong')).rejects.toThrow(
      `signing key ${key} is encrypted and the wrong password was given`,
    );
    await expect(loadPrivateKey(key)).rejects.toThrow(/no password was given/);
    // cosign's older label, and an empty password (COSIGN_PASSWORD= ) that an unset one also tries
    expect(await loadPrivateKey(write('old.key', '', 'COSIGN', { N: 1024, r: 8, p: 1 }))).toBeDefined();
    // a hostile file asking scrypt for gigabytes is refused before any work
    const greedy = write('greedy.key', 'x', 'SIGSTORE', { N: 2, r: 1, p: 1 });
    const text = readFileSync(greedy, 'utf8');
    const envelope = JSON.parse(Buffer.from(text.split('\n').slice(1, -2).join(''), 'base64').toString());
    envelope.kdf.params.N = 2 ** 30;
    writeFileSync(
      greedy,
      `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(JSON.stringify(envelope)).toString('base64')}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`,
    );
    await expect(loadPrivateKey(greedy, 'x')).rejects.toThrow(
      /scrypt parameters N=1073741824 r=1 p=1 are out of range/,
    );
    const junk = join(dir, 'junk.key');
    writeFileSync(
      junk,
      '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neA==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n',
    );
    await expect(loadPrivateKey(junk)).rejects.toThrow(
      `signing key ${junk} is not a valid cosign key: its PEM body is not JSON`,
    );
  }, 30_000);

  it('loads a public key, or the public half of a private key file', async () => {
    const { key, pub, publicKey } = p256('pub', 'sec1');
    expect(keyHint(await loadPublicKey(pub))).toBe(keyHint(publicKey));
    expect(keyHint(await loadPublicKey(key))).toBe(keyHint(publicKey));
    const text = join(dir, 'text.pub');
    writeFileSync(text, 'not a key');
    await expect(loadPublicKey(text)).rejects.toThrow(`public key ${text} is not a PEM public key`);
  });
});

describe('sign/sigstore keyless', () => {
  it('without an OIDC token in the environment, signing fails naming the fix', async () => {
    const saved = { ...process.env };
    for (const name of [
      'ACTIONS_ID_TOKEN_REQUEST_URL',
      'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
      'SIGSTORE_ID_TOKEN',
    ]) {
      delete process.env[name];
    }
    try {
      const signer = await statementSigner({ kind: 'keyless', fulcioUrl: 'http://127.0.0.1:9' });
      const error = await signer
        .sign(statementFor('registry.example.com/app', digest, COSIGN_SIGN_PREDICATE, {}))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WharfError);
      expect((error as WharfError).code).toBe('SIGN_NO_IDENTITY');
      expect((error as WharfError).hint).toContain('SIGSTORE_ID_TOKEN');
    } finally {
      process.env = saved;
    }
  }, 30_000); // @sigstore/sign and its HTTP stack load here (~0.8 s quiet, seconds on a loaded machine)
});
