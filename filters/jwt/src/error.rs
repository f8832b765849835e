//! Why a request was refused: Envoy's `jwt_verify` statuses and their texts
//! (`portico_jose::JwtError`), and the HTTP status each is answered with.

pub use portico_jose::JwtError;

/// What the client is answered with for a refusal.
pub trait Refusal {
    /// 403 for a valid token that is not for this service; 401 otherwise.
    fn status(self) -> u16;
}

impl Refusal for JwtError {
    fn status(self) -> u16 {
        match self {
            JwtError::AudienceNotAllowed => 403,
            _ => 401,
        }
    }
}
