//! Why a token is refused: Envoy's `jwt_verify` statuses and their texts.
//! Like `jwt_verify`'s, the list also names what only a filter finds out
//! (a missing token, an unknown issuer, keys that could not be fetched), so
//! that one type carries every refusal; the HTTP status is the filter's choice.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Missing,
    BadFormat,
    HeaderBadBase64,
    HeaderBadJson,
    HeaderBadAlg,
    HeaderNotImplementedAlg,
    HeaderBadKid,
    HeaderBadCrit,
    HeaderUnknownCrit,
    PayloadBadBase64,
    PayloadBadJson,
    IssNotString,
    SubNotString,
    AudNotString,
    ExpNotInteger,
    NbfNotInteger,
    IatNotInteger,
    ExpOutOfRange,
    NbfOutOfRange,
    IatOutOfRange,
    JtiNotString,
    SignatureBadBase64,
    UnknownIssuer,
    Expired,
    NotYetValid,
    NoExpiration,
    LifetimeTooLong,
    AudienceNotAllowed,
    SubjectNotAllowed,
    KidAlgMismatch,
    NoValidKeys,
    VerificationFail,
    TooLarge,
    JwksUnavailable,
}

impl JwtError {
    /// The text of the refusal, as Envoy words it where Envoy has the case.
    pub fn message(self) -> &'static str {
        match self {
            JwtError::Missing => "Jwt is missing",
            JwtError::BadFormat => {
                "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
            }
            JwtError::HeaderBadBase64 => "Jwt header is an invalid Base64url encoded",
            JwtError::HeaderBadJson => "Jwt header is an invalid JSON",
            JwtError::HeaderBadAlg => "Jwt header [alg] field is required and must be a string",
            JwtError::HeaderNotImplementedAlg => "Jwt header [alg] is not supported",
            JwtError::HeaderBadKid => "Jwt header [kid] field is not a string",
            JwtError::HeaderBadCrit => "Jwt header [crit] field is not a non-empty string list",
            JwtError::HeaderUnknownCrit => {
                "Jwt header [crit] names an extension that is not understood"
            }
            JwtError::PayloadBadBase64 => "Jwt payload is an invalid Base64url encoded",
            JwtError::PayloadBadJson => "Jwt payload is an invalid JSON",
            JwtError::IssNotString => "Jwt payload [iss] field is not a string",
            JwtError::SubNotString => "Jwt payload [sub] field is not a string",
            JwtError::AudNotString => "Jwt payload [aud] field is not a string or string list",
            JwtError::ExpNotInteger => "Jwt payload [exp] field is not an integer",
            JwtError::NbfNotInteger => "Jwt payload [nbf] field is not an integer",
            JwtError::IatNotInteger => "Jwt payload [iat] field is not an integer",
            JwtError::ExpOutOfRange => "Jwt payload [exp] field is not a positive 64 bit integer",
            JwtError::NbfOutOfRange => "Jwt payload [nbf] field is not a positive 64 bit integer",
            JwtError::IatOutOfRange => "Jwt payload [iat] field is not a positive 64 bit integer",
            JwtError::JtiNotString => "Jwt payload [jti] field is not a string",
            JwtError::SignatureBadBase64 => "Jwt signature is an invalid Base64url encoded",
            JwtError::UnknownIssuer => "Jwt issuer is not configured",
            JwtError::Expired => "Jwt is expired",
            JwtError::NotYetValid => "Jwt not yet valid",
            JwtError::NoExpiration => "Jwt has no expiration, which is required",
            JwtError::LifetimeTooLong => "Jwt lifetime is longer than allowed",
            JwtError::AudienceNotAllowed => "Audiences in Jwt are not allowed",
            JwtError::SubjectNotAllowed => "Jwt subject is not allowed",
            JwtError::KidAlgMismatch => "Jwks doesn't have key to match kid or alg from Jwt",
            JwtError::NoValidKeys => "Jwks doesn't have valid keys",
            JwtError::VerificationFail => "Jwt verification fails",
            JwtError::TooLarge => "Jwt is too large",
            JwtError::JwksUnavailable => "Jwks remote fetch is failed",
        }
    }
}
