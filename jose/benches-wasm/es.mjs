// µs per ES256 verification and per p256 operation in V8 (node): see bench.mjs.
import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";
import { generateKeyPairSync, sign } from "node:crypto";

const wasi = new WASI({ version: "preview1" });
const { instance } = await WebAssembly.instantiate(readFileSync(process.argv[2]), wasi.getImportObject());
const x = instance.exports;
wasi.initialize(instance);
function put(bytes) {
  const p = x.buf(bytes.length);
  new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
  return [p, bytes.length];
}
function time(label, iters, f) {
  f(Math.max(1, iters / 10));
  const runs = [];
  for (let r = 0; r < 7; r++) {
    // CPU time, not wall time: the machine may be shared.
    const t = process.cpuUsage();
    f(iters);
    const d = process.cpuUsage(t);
    runs.push((d.user + d.system) / iters);
  }
  runs.sort((a, b) => a - b);
  console.log(`${label}: ${runs[0].toFixed(3)} µs min, ${runs[3].toFixed(3)} µs median`);
}
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = publicKey.export({ format: "jwk" });
const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
const msg = Buffer.from("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9");
const sig = sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
const args = [...put(point), ...put(msg), ...put(sig)];
if (x.bench_es256(...args, 10) !== 10) throw new Error("ES256 does not verify");
time("ES256 verify", 2000, (n) => x.bench_es256(...args, n));
for (const [part, name, n] of [[0, "field mul", 200000], [1, "point add", 50000], [2, "to_affine", 2000], [3, "scalar invert_vartime", 2000], [4, "scalar mul", 200000]]) {
  time(name, n, (k) => x.bench_p256_part(part, k));
}
