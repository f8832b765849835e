// µs per RSA verification in V8 (node), the engine Envoy runs filters in.
//   CARGO_TARGET_DIR=../../target/bw cargo build --release --target wasm32-wasip1
//   node bench.mjs ../../target/bw/wasm32-wasip1/release/rsa_bench_wasm.wasm [bits...]
import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";
import { generateKeyPairSync, sign, constants } from "node:crypto";

const [path, ...sizes] = process.argv.slice(2);
const wasi = new WASI({ version: "preview1" });
const { instance } = await WebAssembly.instantiate(readFileSync(path), wasi.getImportObject());
const x = instance.exports;
wasi.initialize(instance);

function put(bytes) {
  const p = x.buf(bytes.length);
  new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
  return [p, bytes.length];
}

for (const bits of (sizes.length ? sizes : ["2048", "4096"]).map(Number)) {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
  const jwk = publicKey.export({ format: "jwk" });
  const msg = Buffer.from("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9");
  for (const [alg, name] of [[0, "RS256"], [1, "PS256"]]) {
    const sig = name === "RS256"
      ? sign("sha256", msg, privateKey)
      : sign("sha256", msg, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    const args = [
      ...put(Buffer.from(jwk.n, "base64url")), ...put(Buffer.from(jwk.e, "base64url")),
      ...put(msg), ...put(sig),
    ];
    const warm = x.bench_rsa(alg, ...args, 200);
    if (warm !== 200) throw new Error(`${name}-${bits}: ${warm} of 200 verified`);
    const iters = Math.max(200, Math.round(2000 * (2048 / bits) ** 2));
    const runs = [];
    for (let r = 0; r < 7; r++) {
      // CPU time, not wall time: the machine may be shared.
      const t = process.cpuUsage();
      x.bench_rsa(alg, ...args, iters);
      const d = process.cpuUsage(t);
      runs.push((d.user + d.system) / iters);
    }
    runs.sort((a, b) => a - b);
    console.log(`${name}-${bits}: ${runs[0].toFixed(1)} µs min, ${runs[3].toFixed(1)} µs median of CPU (${iters} x 7)`);
  }
}
