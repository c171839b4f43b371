//! Errors a connector, converter or transformation reports, classified the way the framework
//! acts on them: retry, fail the task, or reject a configuration.

/// An error from a plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// Worth retrying with backoff (a network blip, a busy database).
    #[error("retriable: {0}")]
    Retriable(String),
    /// The task cannot go on.
    #[error("{0}")]
    Fatal(String),
    /// A configuration value is wrong; names the key.
    #[error("invalid value for configuration {key}: {message}")]
    Config { key: String, message: String },
    /// A value does not fit its schema, or bytes do not decode.
    #[error("data error: {0}")]
    Data(String),
}

impl ConnectError {
    pub fn is_retriable(&self) -> bool {
        matches!(self, ConnectError::Retriable(_))
    }

    pub fn data(message: impl Into<String>) -> Self {
        ConnectError::Data(message.into())
    }

    /// A configuration error naming its key.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConnectError::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The message alone, as Kafka's exception would carry it (no kind prefix).
    pub fn message(&self) -> &str {
        match self {
            ConnectError::Retriable(m) | ConnectError::Fatal(m) | ConnectError::Data(m) => m,
            ConnectError::Config { message, .. } => message,
        }
    }
}

pub type Result<T> = std::result::Result<T, ConnectError>;
