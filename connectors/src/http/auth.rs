//! Authentication of the HTTP sink's requests: basic, or an OAuth2 client-credentials token
//! fetched once, reused until it expires (or the API answers 401), then fetched again.

use std::time::{Duration, Instant};

use serde_json::Value as Json;
use sluice_connect_api::{ConnectError, Result};

use super::config::{Auth, OAuth2};

/// A token is renewed this long before the expiry the server gave.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

pub struct Authenticator {
    auth: Auth,
    token: Option<(String, Option<Instant>)>,
    /// Tokens fetched so far (for tests and logs).
    pub fetched: u32,
}

impl Authenticator {
    pub fn new(auth: Auth) -> Self {
        Self {
            auth,
            token: None,
            fetched: 0,
        }
    }

    /// Adds the credentials to a request, fetching a token first when none is valid.
    pub async fn apply(
        &mut self,
        client: &reqwest::Client,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder> {
        Ok(match &self.auth {
            Auth::None => request,
            Auth::Basic { user, password } => request.basic_auth(user, Some(password)),
            Auth::OAuth2(oauth) => {
                let valid = matches!(&self.token, Some((_, expiry)) if expiry.is_none_or(|e| Instant::now() < e));
                if !valid {
                    let oauth = oauth.clone();
                    self.token = Some(fetch_token(client, &oauth).await?);
                    self.fetched += 1;
                }
                let token = self
                    .token
                    .as_ref()
                    .map(|(t, _)| t.as_str())
                    .unwrap_or_default();
                request.bearer_auth(token)
            }
        })
    }

    /// The API refused the token: the next request fetches a new one.
    pub fn forget_token(&mut self) -> bool {
        matches!(self.auth, Auth::OAuth2(_)) && self.token.take().is_some()
    }
}

async fn fetch_token(
    client: &reqwest::Client,
    oauth: &OAuth2,
) -> Result<(String, Option<Instant>)> {
    let mut form = vec![("grant_type", "client_credentials".to_string())];
    if !oauth.scope.is_empty() {
        form.push(("scope", oauth.scope.clone()));
    }
    let mut request = client.post(&oauth.token_url);
    if oauth.credentials_in_header {
        request = request.basic_auth(&oauth.client_id, Some(&oauth.client_secret));
    } else {
        form.push(("client_id", oauth.client_id.clone()));
        form.push(("client_secret", oauth.client_secret.clone()));
    }
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let response = request
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            ConnectError::Retriable(format!(
                "fetching an OAuth2 token from {}: {e}",
                oauth.token_url
            ))
        })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| ConnectError::Retriable(format!("reading the OAuth2 token response: {e}")))?;
    if !status.is_success() {
        return Err(ConnectError::Fatal(format!(
            "the OAuth2 token URL {} answered {status}: {text}",
            oauth.token_url
        )));
    }
    let json: Json = serde_json::from_str(&text)
        .map_err(|e| ConnectError::Fatal(format!("the OAuth2 token response is not JSON: {e}")))?;
    let token = json[&oauth.token_property].as_str().ok_or_else(|| {
        ConnectError::Fatal(format!(
            "the OAuth2 token response has no '{}' (oauth2.token.property)",
            oauth.token_property
        ))
    })?;
    let expiry = json["expires_in"]
        .as_u64()
        .map(|s| Instant::now() + Duration::from_secs(s).saturating_sub(EXPIRY_MARGIN));
    Ok((token.to_string(), expiry))
}

/// `application/x-www-form-urlencoded` escaping.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
