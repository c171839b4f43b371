//! Errors as Confluent's registry reports them: a five-digit `error_code` whose first three
//! digits are the HTTP status, and its message wording.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    #[error("Schema {0} not found")]
    SchemaIdNotFound(u32),
    #[error("Schema not found")]
    SchemaNotFound,
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error("Subject '{0}' Version {1} was soft deleted.Set permanent=true to delete permanently")]
    VersionSoftDeleted(String, u32),
    #[error("Subject '{0}' Version {1} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted(String, u32),
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectConfigNotFound(String),
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotFound(String),
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", details.join(", "))]
    Incompatible {
        subject: String,
        details: Vec<String>,
    },
    #[error("{0}")]
    InvalidSchema(String),
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    #[error("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")]
    InvalidLevel,
    #[error("Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT")]
    InvalidMode,
    #[error("{0}")]
    NotPermitted(String),
    #[error("One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={0},version={1}}}.")]
    Referenced(String, u32),
    #[error("Schema id {0} does not match the id of the same schema already registered ({1})")]
    IdMismatch(u32, u32),
    #[error("The specified subject '{0}' is not a valid.")]
    InvalidSubject(String),
    #[error(
        "Schema too large: its text is {0} bytes, more than the {1} a record of the store may hold"
    )]
    SchemaTooLarge(usize, usize),
    #[error("Context {0} is not empty")]
    ContextNotEmpty(String),
    #[error("Error while storing: {0}")]
    Store(String),
    #[error("Write to the store timed out while waiting for it to be read back")]
    StoreTimeout,
    /// A request the REST layer could not read (malformed JSON, a bad query value).
    #[error("{1}")]
    BadRequest(u16, String),
}

impl RegistryError {
    pub fn code(&self) -> u32 {
        use RegistryError::*;
        match self {
            SubjectNotFound(_) => 40401,
            VersionNotFound(_) => 40402,
            SchemaIdNotFound(_) | SchemaNotFound => 40403,
            SubjectSoftDeleted(_) => 40404,
            SubjectNotSoftDeleted(_) => 40405,
            VersionSoftDeleted(..) => 40406,
            VersionNotSoftDeleted(..) => 40407,
            SubjectConfigNotFound(_) => 40408,
            SubjectModeNotFound(_) => 40409,
            Incompatible { .. } => 40901,
            InvalidSchema(_) => 42201,
            InvalidVersion(_) => 42202,
            InvalidLevel => 42203,
            InvalidMode => 42204,
            NotPermitted(_) => 42205,
            Referenced(..) => 42206,
            IdMismatch(..) => 42207,
            InvalidSubject(_) => 42208,
            SchemaTooLarge(..) => 42209,
            ContextNotEmpty(_) => 42211,
            Store(_) => 50001,
            StoreTimeout => 50002,
            BadRequest(code, _) => u32::from(*code),
        }
    }

    pub fn status(&self) -> StatusCode {
        let code = self.code();
        let http = if code >= 10_000 { code / 100 } else { code };
        u16::try_from(http)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error_code": self.code(), "message": self.to_string()});
        crate::rest::json_response(self.status(), &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_status_is_the_first_three_digits() {
        assert_eq!(
            RegistryError::Incompatible {
                subject: "s".into(),
                details: vec![]
            }
            .status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            RegistryError::InvalidVersion("x".into()).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            RegistryError::BadRequest(400, "bad".into()).status(),
            StatusCode::BAD_REQUEST
        );
    }
}
