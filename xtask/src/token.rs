//! `cargo xtask token` and `cargo xtask keys`: dev tokens and the dev key pair.

use portico_harness::dev::{self, Claims};
use portico_harness::workspace_root;
use portico_jose::mint::DevKey;

pub const TOKEN_USAGE: &str =
    "cargo xtask token --sub NAME [--exp 1h] [--aud AUD]... [--iss ISSUER]";

/// Prints a token signed with `envoy/keys/dev-private.pem`.
pub fn token(args: &[String]) -> Result<(), String> {
    let mut claims = Claims::new("");
    let mut audiences = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value. usage: {TOKEN_USAGE}"))
        };
        match flag.as_str() {
            "--sub" => claims.sub = value()?,
            "--exp" => claims.expires_in = dev::parse_lifetime(&value()?)?,
            "--aud" => audiences.push(value()?),
            "--iss" => claims.issuer = value()?,
            other => return Err(format!("unknown argument {other}. usage: {TOKEN_USAGE}")),
        }
    }
    if claims.sub.is_empty() {
        return Err(format!("--sub is required. usage: {TOKEN_USAGE}"));
    }
    if !audiences.is_empty() {
        claims.audience = audiences;
    }
    let token = dev::token(&claims)?;
    eprintln!("xtask: claims {}", claims.to_json());
    println!("{token}");
    Ok(())
}

/// Writes a new dev key pair to `envoy/keys/` (refuses to overwrite without --force).
pub fn keys(args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    let private = root.join(dev::PRIVATE_KEY);
    if private.exists() && !args.iter().any(|a| a == "--force") {
        return Err(format!(
            "{} exists; pass --force to replace it (then update the JWKS inlined in envoy/*.yaml, \
             as the test `shipped_configs_inline_the_dev_jwks` will tell you)",
            private.display()
        ));
    }
    let key = DevKey::generate(dev::KID)?;
    std::fs::write(&private, key.to_pem()?)
        .map_err(|e| format!("write {}: {e}", private.display()))?;
    let jwks = root.join(dev::JWKS);
    let text = serde_json::to_string_pretty(&key.jwks()).map_err(|e| e.to_string())?;
    std::fs::write(&jwks, text + "\n").map_err(|e| format!("write {}: {e}", jwks.display()))?;
    println!("wrote {} and {}", private.display(), jwks.display());
    for (file, sub, iat, exp) in dev::SAMPLE_TOKENS {
        let path = root.join(file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        }
        let token = key.token(&dev::sample_claims(sub, iat, exp).to_json())?;
        std::fs::write(&path, token + "\n")
            .map_err(|e| format!("write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
