#![allow(clippy::expect_used)]
use portico::testing::TestHost;
use portico_jwt::mint::Keys;
use serde_json::json;
#[test]
fn scratch() {
    let keys = Keys::generate(3).expect("k");
    let now = 1_767_225_600i64;
    let claims =
        json!({"iss": "https://issuer.example", "aud": "api", "sub": "bench", "exp": now + 86_400});
    for cache in [false, true] {
        let mut provider = json!({"issuer": "https://issuer.example", "audiences": ["api"], "local_jwks": {"inline_string": keys.jwks().to_string()}});
        if cache {
            provider["jwt_cache_config"] = json!({"jwt_cache_size": 100});
        }
        let config = json!({"providers": {"p": provider}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]});
        let host = TestHost::new();
        let vm = host
            .vm::<portico_jwt::JwtAuthn>(&config.to_string())
            .expect("vm");
        let token = keys.token("ES256", &claims);
        let bearer = format!("Bearer {token}");
        assert_eq!(
            vm.get("/x")
                .header("authorization", &bearer)
                .send()
                .status(),
            200
        );
        host.take_host_calls();
        assert_eq!(
            vm.get("/x")
                .header("authorization", &bearer)
                .send()
                .status(),
            200
        );
        eprintln!("jwt cache={cache} {:?}", host.host_calls());
    }
}
