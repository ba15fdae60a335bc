#!/usr/bin/env node
// Builds what bin/tfactl.cjs runs (`npm run build` type-checks with tsc first):
//
//   dist/tfactl.cjs        src/ and its JavaScript dependencies in one CommonJS file (esbuild).
//                          Node's module loader costs about half a millisecond per module, and an
//                          ESM graph more; one file read once is the cheapest start.
//   dist/tfactl.cjs.cache  V8's code cache for it, made by running common commands once
//                          (scripts/warm-cache.cjs), so a run skips parsing and compiling them.
//
// Native addons (better-sqlite3's, argon2's) stay in node_modules and are loaded by path (see the
// shims below).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist', 'tfactl.cjs');
const WEBAUTHN_FILE = 'webauthn-server.cjs';
const PG_FILE = 'pg.cjs';
const PAM_MAIN_FILE = 'tfactl-pam.cjs';
const PG_CRYPTO = join(ROOT, 'src', 'store', 'pg-crypto.ts');
const COMMON_PASSWORDS = join(ROOT, 'src', 'domain', 'common-passwords.ts');
const COMMON_PASSWORDS_FILE = 'common-passwords.txt';

const require = createRequire(import.meta.url);

/**
 * Where a package's native addon is, relative to its package.json, as its own locator finds it on
 * this machine at build time (npm ci builds on the machine that runs tfactl). At run time the
 * bundle loads that file directly and falls back to the locator if it fails (a moved or copied
 * install): the locators walk directories, read package.json files and try paths on every start.
 */
function addonShim(pkg, addonPath, fallback) {
  const rel = relative(dirname(require.resolve(`${pkg}/package.json`)), addonPath);
  // The path is only good for the Node ABI, platform and architecture it was found for: another
  // Node (an upgrade without a rebuild) goes straight to the locator, whose error says what to do.
  const abi = `${process.platform}-${process.arch}-${process.versions.modules}`;
  return `
    module.exports = (...args) => {
      const pkg = require.resolve(${JSON.stringify(`${pkg}/package.json`)});
      const locate = () => (${fallback})(require('node:module').createRequire(pkg), require('node:path').dirname(pkg), ...args);
      if (\`\${process.platform}-\${process.arch}-\${process.versions.modules}\` !== ${JSON.stringify(abi)}) return locate();
      try {
        return require(require('node:path').join(pkg, '..', ${JSON.stringify(rel)}));
      } catch (e) {
        if (e.code !== 'MODULE_NOT_FOUND' && e.code !== 'ERR_DLOPEN_FAILED') throw e;
        try {
          return locate();
        } catch {
          throw e;
        }
      }
    };`;
}

const SHIMS = {
  // better-sqlite3 finds its addon with `bindings`, which also walks the call stack (in a bundle it
  // would search beside dist/).
  bindings: addonShim(
    'better-sqlite3',
    join(dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node'),
    '(req, root, name) => req("bindings")({ bindings: name, module_root: root })',
  ),
  // argon2 finds its addon (a prebuilt one, or one compiled on install) with node-gyp-build.
  'node-gyp-build': addonShim(
    'argon2',
    createRequire(require.resolve('argon2/package.json'))('node-gyp-build').path(dirname(require.resolve('argon2/package.json'))),
    '(req, root) => req("node-gyp-build")(root)',
  ),
  // commander requires child_process (and with it net, dgram and the streams: about 2 ms) for
  // stand-alone executable subcommands, which tfactl does not have. Load it only if used.
  child_process: `module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });`,
  // node:crypto takes a few milliseconds to load, and a sign-in needs it only once argon2 is at
  // work: each function here loads it on first call, so services/passwords.ts can load it on the
  // main thread while the thread pool verifies (about 3 ms off every password sign-in). An ES
  // module, so importing a name not listed fails the build instead of a run.
  // @simplewebauthn/server and what it brings (X.509 and ASN.1 parsers: about 700 KB) would double
  // the bundle every command reads and hashes on start: it is bundled into a file of its own,
  // required from beside the main bundle by the few commands that check a WebAuthn answer.
  '@simplewebauthn/server': `module.exports = require(require('node:path').join(__dirname, ${JSON.stringify(WEBAUTHN_FILE)}));`,
  // node-postgres, for a store on PostgreSQL only: a file of its own too, so that no other command
  // reads it on start.
  pg: `module.exports = require(require('node:path').join(__dirname, ${JSON.stringify(PG_FILE)}));`,
  crypto: [
    ...['createCipheriv', 'createDecipheriv', 'createHash', 'createHmac', 'createPrivateKey', 'createPublicKey', 'randomBytes', 'randomUUID', 'timingSafeEqual', 'verify'].map(
      (name) => `export const ${name} = (...args) => require('node:crypto').${name}(...args);`,
    ),
    // A class: \`new\` of a function that returns an object gives that object.
    "export function X509Certificate(...args) { return new (require('node:crypto').X509Certificate)(...args); }",
  ].join('\n'),
};

const shims = {
  name: 'tfactl-shims',
  setup(build) {
    build.onResolve({ filter: /^(bindings|node-gyp-build|(node:)?child_process|(node:)?crypto|@simplewebauthn\/server|pg)$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (name === '@simplewebauthn/server' || name === 'pg') return { path: name, namespace: 'shim' };
      // Every importer of crypto gets the shim, except the shim itself.
      if (name === 'crypto') return args.namespace === 'shim' ? undefined : { path: 'crypto', namespace: 'shim' };
      const owner = { bindings: 'better-sqlite3', 'node-gyp-build': 'argon2', child_process: 'commander' }[name];
      return new RegExp(`[\\\\/]node_modules[\\\\/]${owner}[\\\\/]`).test(args.importer) ? { path: name, namespace: 'shim' } : undefined;
    });
    build.onLoad({ filter: /.*/, namespace: 'shim' }, (args) => ({ contents: SHIMS[args.path], loader: 'js' }));
    // The common passwords (src/domain/common-passwords.ts): their text from a file of its own,
    // written below, read when a password is set; not the package, which decompresses its list
    // as it loads (about 70 ms).
    build.onLoad({ filter: /[\\/]src[\\/]domain[\\/]common-passwords\.ts$/ }, (args) => {
      if (resolve(args.path) !== COMMON_PASSWORDS) return undefined;
      // Plain text (ASCII): read in well under a millisecond, where a module of one string literal took 15.
      const file = `require('node:path').join(__dirname, ${JSON.stringify(COMMON_PASSWORDS_FILE)})`;
      const read = `const f = ${file}; try { return require('node:fs').readFileSync(f, 'latin1'); } catch (e) { throw new Error(\`\${f} cannot be read (\${e.code}): run npm run build\`); }`;
      return { contents: `export const commonPasswordText = () => { ${read} };`, loader: 'js' };
    });
  },
};

const MAIN_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // `import()` becomes require(): the bundle runs through vm.Script (for the code cache), where
  // a dynamic import() has no loader. Everything is inside the bundle anyway.
  supported: { 'dynamic-import': false },
  external: ['better-sqlite3/package.json', 'argon2/package.json'],
  // Pure ASCII, so bin/tfactl.cjs can read it as latin1 (no UTF-8 decoding) and get the same text.
  charset: 'ascii',
  // Smaller to read and hash on every start. Names are kept, so --debug stack traces stay legible.
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [shims],
  logLevel: 'warning',
};
// Started itself (`node dist/tfactl.cjs`), the bundle runs as bin/tfactl.cjs would, rather than
// load and exit 0 with nothing done. Loaded by bin/tfactl.cjs, its module is not the main one.
const result = await esbuild.build({
  ...MAIN_OPTIONS,
  entryPoints: [join(ROOT, 'src', 'main.ts')],
  outfile: OUT,
  write: false,
  footer: { js: 'if(require.main===module)require("../bin/tfactl.cjs").start();' },
});

// What pam_exec runs through a tfactl service (src/pam-main.ts): a bundle of its own without the
// command tree, read by Node's loader (about 36 KB: a code cache saved 1 ms of it, and the flag that
// checksums one costs 2 ms).
// It runs only without a terminal (src/pam-main.ts), so never shows colours or asks a question:
// chalk and the prompts (most of what it would hold) are left out.
const noTerminal = {
  name: 'pam-no-terminal',
  setup(build) {
    build.onResolve({ filter: /^(chalk|\.\/terminal-prompts\.js)$/ }, (args) => ({ path: args.path, namespace: 'no-terminal' }));
    build.onLoad({ filter: /.*/, namespace: 'no-terminal' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not in ${PAM_MAIN_FILE}: it runs without a terminal`)});`,
      loader: 'js',
    }));
  },
};
await esbuild.build({ ...MAIN_OPTIONS, plugins: [shims, noTerminal], entryPoints: [join(ROOT, 'src', 'pam-main.ts')], outfile: join(ROOT, 'dist', PAM_MAIN_FILE) });

/** A dependency bundled into a file of its own beside the main bundle (see the shims above). */
function bundleAside(name, file, options = {}) {
  return esbuild.build({
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: ROOT, loader: 'js' },
    outfile: join(ROOT, 'dist', file),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
    ...options,
  });
}

// The common passwords' text, as src/domain/common-passwords.ts makes it from the package.
{
  const list = require('@zxcvbn-ts/language-common').dictionary['passwords-common'];
  if (!Array.isArray(list) || list.length < 10_000 || list.some((p) => typeof p !== 'string' || !/^[\x20-\x7e]+$/.test(p) || p !== p.toLowerCase())) {
    throw new Error("@zxcvbn-ts/language-common's passwords-common is not a list of lower-case ASCII passwords: look at src/domain/common-passwords.ts again");
  }
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  writeFileSync(join(ROOT, 'dist', COMMON_PASSWORDS_FILE), list.join('\n'));
}

// The WebAuthn verifier. Plain esbuild output: it is loaded by a handful of commands, after the
// start-up that the code cache is for.
await bundleAside('@simplewebauthn/server', WEBAUTHN_FILE);

// node-postgres. Its check for Cloudflare Workers (lib/stream.js) makes a `Response` when there is
// no `navigator`, as on Node 20: that global loads undici, about 40 ms of every command on a
// PostgreSQL store. Node is never a Worker, so the check is left out.
await bundleAside('pg', PG_FILE, {
  // pg-native is pg's optional binding (never installed here); pg requires it only when asked to.
  external: ['pg-native'],
  plugins: [
    {
      name: 'pg-not-a-worker',
      setup(build) {
        // Its SCRAM login's hashes (pg/lib/crypto/utils.js) with node:crypto's functions, not
        // WebCrypto's (see src/store/pg-crypto.ts).
        const original = require.resolve('pg/lib/crypto/utils.js');
        build.onResolve({ filter: /utils$/ }, (args) => {
          if (join(args.resolveDir, `${args.path}.js`) !== original) return undefined;
          const names = (file) => new Set([...readFileSync(file, 'utf8').matchAll(/^export (?:async )?function (\w+)/gm)].map((m) => m[1]));
          const theirs = [...readFileSync(original, 'utf8').match(/module\.exports = \{([^}]*)\}/)?.[1].matchAll(/\w+/g) ?? []].map((m) => m[0]);
          const ours = names(PG_CRYPTO);
          if (theirs.length === 0 || theirs.some((name) => !ours.has(name))) {
            throw new Error(`pg/lib/crypto/utils.js exports ${theirs.join(', ')}: src/store/pg-crypto.ts must have each; look at it again`);
          }
          return { path: PG_CRYPTO };
        });
        // node:dns (about 0.7 ms, and it reads /etc/resolv.conf) only if pg uses it: its lookup is
        // for pg-native's connection string, never on this path.
        build.onResolve({ filter: /^dns$/ }, () => ({ path: 'dns', namespace: 'pg-lazy' }));
        build.onLoad({ filter: /.*/, namespace: 'pg-lazy' }, () => ({
          contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:dns')[key] });",
          loader: 'js',
        }));
        build.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => {
          const text = readFileSync(args.path, 'utf8');
          const check = "typeof Response === 'function'";
          if (!text.includes(check)) throw new Error(`${args.path}: its Cloudflare check changed; look at it again`);
          return { contents: text.replace(check, 'false'), loader: 'js' };
        });
      },
    },
  ],
});

// The build id on the first line is a hash of the rest, so the same sources give the same bundle,
// and a cache made for other contents is never offered to V8 (bin/tfactl.cjs compares the ids).
const [output] = result.outputFiles;
const body = Buffer.from(output.contents);
if (body.some((b) => b > 0x7f)) throw new Error(`${OUT} is not pure ASCII`);
const buildId = createHash('sha256').update(body).digest('hex').slice(0, 32);
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, Buffer.concat([Buffer.from(`/* tfactl build ${buildId} */\n`), body]));

// The cache is made by a process of its own, started the way bin/tfactl.cjs is (same Node, same
// flags), so V8 accepts it. A failing command there fails the build: it also smoke-tests the bundle.
rmSync(`${OUT}.cache`, { force: true });
const warm = spawnSync(process.execPath, [join(ROOT, 'scripts', 'warm-cache.cjs')], { stdio: 'inherit' });
if (warm.status !== 0) process.exit(warm.status ?? 1);
