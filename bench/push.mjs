// Benchmark (issue 4): push a ~500 MB multi-layer image to a loopback docker-registry, wharf vs skopeo.
//   pnpm -s build && node bench/push.mjs [--layers 5] [--mib 100]
// The image: wharf builds FROM scratch with one COPY per generated file (incompressible, deterministic
// AES-CTR bytes), into an OCI layout. Then, each against its own fresh `docker-registry` (so neither
// benefits from blobs the other uploaded):
//   wharf push LAYOUT 127.0.0.1:PORT/bench/big:1
//   skopeo copy --dest-tls-verify=false oci:LAYOUT:TAG docker://127.0.0.1:PORT/bench/big-skopeo:1
// plus wharf's re-push of the unchanged image (issue 4 wants < 0.5 s on loopback).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { log, machine, run, s, startRegistry, table, tempDir, wharf, writeRandomFile } from './lib.mjs';

const { values } = parseArgs({
  options: { layers: { type: 'string', default: '5' }, mib: { type: 'string', default: '100' } },
});
const layers = Number(values.layers);
const mibEach = Number(values.mib);

const work = tempDir('push');
const registries = [];
const cleanup = async () => {
  for (const r of registries) await r.stop();
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

try {
  const ctx = join(work, 'ctx');
  mkdirSync(ctx);
  let dockerfile = 'FROM scratch\n';
  for (let i = 0; i < layers; i++) {
    writeRandomFile(join(ctx, `blob${i}.bin`), mibEach * 2 ** 20, i);
    dockerfile += `COPY blob${i}.bin /data/blob${i}.bin\n`;
  }
  writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
  const layout = join(work, 'layout');
  log(`building ${layers} x ${mibEach} MiB layers into an OCI layout…`);
  const built = await wharf([
    'build',
    '-f',
    join(ctx, 'Dockerfile'),
    ctx,
    '--cache-dir',
    join(work, 'cache'),
    '-o',
    `type=oci,dest=${layout}`,
    '-t',
    'bench/big:1',
    '--progress',
    'quiet',
  ]);
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const refName = index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name'];
  const manifest = JSON.parse(
    readFileSync(join(layout, 'blobs', ...index.manifests[0].digest.split(':')), 'utf8'),
  );
  const bytes = manifest.layers.reduce((n, l) => n + l.size, 0) + manifest.config.size;
  log(`layout ref name: ${refName}; ${manifest.layers.length} layers, ${(bytes / 2 ** 20).toFixed(1)} MiB`);

  const regW = await startRegistry();
  registries.push(regW);
  const regS = await startRegistry();
  registries.push(regS);

  log('wharf push…');
  const wPush = await wharf(['push', '-q', layout, `${regW.host}/bench/big:1`]);
  log('wharf re-push (unchanged)…');
  const wRepush = await wharf(['push', '-q', layout, `${regW.host}/bench/big:1`]);
  log('skopeo copy…');
  const sCopy = await run('skopeo', [
    'copy',
    '-q',
    '--dest-tls-verify=false',
    `oci:${layout}:${refName}`,
    `docker://${regS.host}/bench/big-skopeo:1`,
  ]);
  log('skopeo re-copy (unchanged)…');
  const sRecopy = await run('skopeo', [
    'copy',
    '-q',
    '--dest-tls-verify=false',
    `oci:${layout}:${refName}`,
    `docker://${regS.host}/bench/big-skopeo:1`,
  ]);
  // Both registries now hold the same manifest digest? (skopeo may re-encode the manifest; report it.)
  const inspect = async (host, repo) =>
    JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${host}/${repo}:1`])).stdout)
      .Digest;
  const digests = {
    wharf: await inspect(regW.host, 'bench/big'),
    skopeo: await inspect(regS.host, 'bench/big-skopeo'),
  };

  const mib = bytes / 2 ** 20;
  table([
    {
      op: 'push (fresh registry)',
      wharf: wPush.seconds,
      skopeo: sCopy.seconds,
      'wharf MiB/s': mib / wPush.seconds,
      'skopeo MiB/s': mib / sCopy.seconds,
      'wharf/skopeo': wPush.seconds / sCopy.seconds,
    },
    {
      op: 're-push (unchanged)',
      wharf: wRepush.seconds,
      skopeo: sRecopy.seconds,
      'wharf/skopeo': wRepush.seconds / sRecopy.seconds,
    },
  ]);
  console.log(
    `\nimage: ${manifest.layers.length} layers, ${mib.toFixed(1)} MiB compressed; wharf build -o type=oci took ${s(built.seconds)} s`,
  );
  console.log(`manifest digests: wharf ${digests.wharf}, skopeo ${digests.skopeo}`);
  console.log(
    JSON.stringify({
      bench: 'push',
      date: new Date().toISOString(),
      machine: machine(),
      layers: manifest.layers.length,
      mib: s(mib),
      push: { wharf: s(wPush.seconds), skopeo: s(sCopy.seconds), ratio: s(wPush.seconds / sCopy.seconds) },
      repush: { wharf: s(wRepush.seconds), skopeo: s(sRecopy.seconds) },
      sameManifest: digests.wharf === digests.skopeo,
    }),
  );
} finally {
  await cleanup();
}
