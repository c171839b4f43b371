//! `connection.url` as users already have it (`jdbc:postgresql://host:5432/db`,
//! `jdbc:sqlite:/path`, `jdbc:mysql://...`, `jdbc:mariadb://...`) or as sqlx takes it
//! (`postgres://`, `sqlite://`, `mysql://`), with `connection.user` and `connection.password`,
//! turned into the URL sqlx connects to.

use sluice_connect_api::ConnectError;

use super::dialect::Dialect;

/// A database to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub dialect: Dialect,
    /// The sqlx URL, credentials included.
    pub url: String,
}

fn invalid(message: String) -> ConnectError {
    ConnectError::Config {
        key: "connection.url".into(),
        message,
    }
}

/// Percent-encodes a user name or password for the authority of a URL.
fn encode_userinfo(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Database {
    pub fn parse(
        url: &str,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Self, ConnectError> {
        let url = url.trim();
        let bare = url.strip_prefix("jdbc:").unwrap_or(url);
        let (scheme, rest) = bare
            .split_once(':')
            .ok_or_else(|| invalid(format!("'{url}' is not a JDBC or database URL")))?;
        let dialect = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Dialect::Sqlite,
            "postgresql" | "postgres" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::MySql,
            other => {
                return Err(invalid(format!(
                    "no dialect for '{other}' in '{url}': Sluice speaks sqlite, postgresql and mysql/mariadb"
                )))
            }
        };
        if dialect == Dialect::Sqlite {
            // jdbc:sqlite:/path, jdbc:sqlite::memory:, sqlite://path, sqlite:path
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err(invalid(format!("'{url}' names no database file")));
            }
            let url = if path == ":memory:" {
                "sqlite::memory:".to_string()
            } else {
                format!("sqlite://{path}?mode=rwc")
            };
            return Ok(Self { dialect, url });
        }
        let rest = rest
            .strip_prefix("//")
            .ok_or_else(|| invalid(format!("'{url}' has no //host")))?;
        // JDBC puts credentials in the query (`?user=a&password=b`) or the config keys; sqlx in
        // the authority. Options of JDBC drivers have no sqlx meaning and are dropped.
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut query_user = None;
        let mut query_password = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("user", v)) => query_user = Some(v.to_string()),
                Some(("password", v)) => query_password = Some(v.to_string()),
                Some(("sslmode" | "ssl-mode" | "options" | "application_name", _)) => {
                    kept.push(pair.to_string())
                }
                _ => {}
            }
        }
        let (given_auth, location) = match location.rsplit_once('@') {
            Some((auth, host)) => (Some(auth.to_string()), host),
            None => (None, location),
        };
        let user = user
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .or(query_user);
        let password = password
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .or(query_password);
        let auth = match (user, password, given_auth) {
            (Some(u), Some(p), _) => format!("{}:{}@", encode_userinfo(&u), encode_userinfo(&p)),
            (Some(u), None, _) => format!("{}@", encode_userinfo(&u)),
            (None, _, Some(given)) => format!("{given}@"),
            (None, _, None) => String::new(),
        };
        let scheme = match dialect {
            Dialect::Postgres => "postgres",
            _ => "mysql",
        };
        let query = if kept.is_empty() {
            String::new()
        } else {
            format!("?{}", kept.join("&"))
        };
        Ok(Self {
            dialect,
            url: format!("{scheme}://{auth}{location}{query}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdbc_and_sqlx_urls_become_sqlx_urls_with_the_credentials() {
        let pg = Database::parse(
            "jdbc:postgresql://db:5432/shop?user=x&ssl=true",
            Some("app"),
            Some("p@ss word"),
        )
        .expect("pg");
        assert_eq!(pg.dialect, Dialect::Postgres);
        assert_eq!(pg.url, "postgres://app:p%40ss%20word@db:5432/shop");
        let pg =
            Database::parse("jdbc:postgresql://db/shop?user=x&password=y", None, None).expect("pg");
        assert_eq!(pg.url, "postgres://x:y@db/shop");
        let my = Database::parse("jdbc:mariadb://db:3306/shop", Some("root"), None).expect("mysql");
        assert_eq!(
            (my.dialect, my.url.as_str()),
            (Dialect::MySql, "mysql://root@db:3306/shop")
        );
        let lite = Database::parse("jdbc:sqlite:/tmp/x.db", None, None).expect("sqlite");
        assert_eq!(
            (lite.dialect, lite.url.as_str()),
            (Dialect::Sqlite, "sqlite:///tmp/x.db?mode=rwc")
        );
        let sqlx = Database::parse("postgres://u:p@h/db", None, None).expect("sqlx");
        assert_eq!(sqlx.url, "postgres://u:p@h/db");
        let err = Database::parse("jdbc:oracle:thin:@h:1521:x", None, None).expect_err("oracle");
        assert!(err.to_string().contains("oracle"), "{err}");
    }
}
