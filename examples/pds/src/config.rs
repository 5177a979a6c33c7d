//! The server's configuration, read from the environment as the reference
//! PDS reads it (`PDS_*` variables), each also settable by a flag.
//!
//! [`Args`] is what clap reads (a flag, else its variable); [`Config::from_args`]
//! checks it and fills the defaults the reference uses. Other `PDS_*`
//! variables the reference knows are accepted and ignored.

use std::fmt;
use std::path::PathBuf;

use atproto_core::crypto::{Curve, Keypair};
use atproto_core::syntax::Did;
use clap::Parser;

/// The port the reference PDS listens on by default.
pub const DEFAULT_PORT: u16 = 2583;

/// The did:plc directory used when `PDS_DID_PLC_URL` is not set.
pub const DEFAULT_PLC_URL: &str = "https://plc.directory";

/// The largest blob accepted by default, in bytes (the reference's 5 MiB).
pub const DEFAULT_BLOB_UPLOAD_LIMIT: u64 = 5 * 1024 * 1024;

/// The command line: every option is a flag or its `PDS_*` variable (the
/// flag wins). Everything is read as text and checked by
/// [`Config::from_args`], so each error names its variable.
#[derive(Parser, Clone, Default)]
#[command(name = "pds", version, about = "An AT Protocol PDS on embedded SQLite")]
pub struct Args {
    /// Port to listen on (on 127.0.0.1); 0 picks a free one. Default 2583.
    #[arg(long, env = "PDS_PORT")]
    pub port: Option<String>,
    /// The public hostname. Default `localhost`.
    #[arg(long, env = "PDS_HOSTNAME")]
    pub hostname: Option<String>,
    /// Where the database (and by default the blobs) live. Required.
    #[arg(long, env = "PDS_DATA_DIRECTORY")]
    pub data_directory: Option<PathBuf>,
    /// Where blob bytes are kept. Default `<data directory>/blobs`.
    #[arg(long, env = "PDS_BLOBSTORE_DISK_LOCATION")]
    pub blobstore_disk_location: Option<PathBuf>,
    /// The did:plc directory. Default `https://plc.directory`.
    #[arg(long, env = "PDS_DID_PLC_URL")]
    pub did_plc_url: Option<String>,
    /// Comma-separated handle suffixes, each starting with a dot. Default
    /// `.test` for localhost, else `.<hostname>`.
    #[arg(long, env = "PDS_SERVICE_HANDLE_DOMAINS")]
    pub service_handle_domains: Option<String>,
    /// The service's DID. Default `did:web:<hostname>`.
    #[arg(long, env = "PDS_SERVICE_DID")]
    pub service_did: Option<String>,
    /// The secret session tokens are signed with (HS256). Required.
    #[arg(long, env = "PDS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// The admin password. Required.
    #[arg(long, env = "PDS_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// The did:plc rotation key: a secp256k1 private key, 64 hex digits.
    /// Required.
    #[arg(
        long,
        env = "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
        hide_env_values = true
    )]
    pub plc_rotation_key_k256_private_key_hex: Option<String>,
    /// Whether account creation needs an invite code (`true`/`false`,
    /// `1`/`0`). Default true, as the reference.
    #[arg(long, env = "PDS_INVITE_REQUIRED")]
    pub invite_required: Option<String>,
    /// Dev mode: the public URL is `http://<hostname>:<port>` instead of
    /// `https://<hostname>`. Default false.
    #[arg(long, env = "PDS_DEV_MODE")]
    pub dev_mode: Option<String>,
    /// Rate limits per IP and per account; `false` switches them off (for
    /// benchmarks). Default true.
    #[arg(long, env = "PDS_RATE_LIMITS_ENABLED")]
    pub rate_limits_enabled: Option<String>,
    /// Comma-separated hosts asked to crawl this PDS (`requestCrawl`).
    #[arg(long, env = "PDS_CRAWLERS")]
    pub crawlers: Option<String>,
    /// The AppView `app.bsky.*` calls are proxied to (with `PDS_BSKY_APP_VIEW_DID`).
    #[arg(long, env = "PDS_BSKY_APP_VIEW_URL")]
    pub bsky_app_view_url: Option<String>,
    /// The AppView's DID (with `PDS_BSKY_APP_VIEW_URL`).
    #[arg(long, env = "PDS_BSKY_APP_VIEW_DID")]
    pub bsky_app_view_did: Option<String>,
    /// The largest blob accepted, in bytes. Default 5 MiB.
    #[arg(long, env = "PDS_BLOB_UPLOAD_LIMIT")]
    pub blob_upload_limit: Option<String>,
    /// Linked from describeServer.
    #[arg(long, env = "PDS_PRIVACY_POLICY_URL")]
    pub privacy_policy_url: Option<String>,
    /// Linked from describeServer.
    #[arg(long, env = "PDS_TERMS_OF_SERVICE_URL")]
    pub terms_of_service_url: Option<String>,
    /// Given in describeServer.
    #[arg(long, env = "PDS_CONTACT_EMAIL_ADDRESS")]
    pub contact_email_address: Option<String>,
}

/// The AppView that `app.bsky.*` calls go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppView {
    /// Its URL.
    pub url: String,
    /// Its DID (the audience of the service-auth tokens).
    pub did: String,
}

/// The checked configuration.
#[derive(Clone)]
pub struct Config {
    /// Port to listen on; 0 picks one.
    pub port: u16,
    /// The public hostname.
    pub hostname: String,
    /// The data directory.
    pub data_directory: PathBuf,
    /// Where blob bytes are kept.
    pub blob_directory: PathBuf,
    /// The did:plc directory's URL.
    pub plc_url: String,
    /// Handle suffixes, each starting with a dot.
    pub handle_domains: Vec<String>,
    /// The service's DID.
    pub service_did: Did,
    /// The HS256 session secret.
    pub jwt_secret: String,
    /// The admin password.
    pub admin_password: String,
    /// The did:plc rotation key.
    pub plc_rotation_key: Keypair,
    /// Whether account creation needs an invite code.
    pub invite_required: bool,
    /// Dev mode (an `http://host:port` public URL).
    pub dev_mode: bool,
    /// Whether rate limits apply.
    pub rate_limits_enabled: bool,
    /// Hosts asked to crawl this PDS.
    pub crawlers: Vec<String>,
    /// Where `app.bsky.*` calls are proxied.
    pub app_view: Option<AppView>,
    /// The largest blob accepted, in bytes.
    pub blob_upload_limit: u64,
    /// describeServer's `links.privacyPolicy`.
    pub privacy_policy_url: Option<String>,
    /// describeServer's `links.termsOfService`.
    pub terms_of_service_url: Option<String>,
    /// describeServer's `contact.email`.
    pub contact_email: Option<String>,
}

/// Secrets stay out of logs.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("hostname", &self.hostname)
            .field("data_directory", &self.data_directory)
            .field("blob_directory", &self.blob_directory)
            .field("plc_url", &self.plc_url)
            .field("handle_domains", &self.handle_domains)
            .field("service_did", &self.service_did)
            .field(
                "plc_rotation_key",
                &self.plc_rotation_key.public_key().to_did_key(),
            )
            .field("invite_required", &self.invite_required)
            .field("dev_mode", &self.dev_mode)
            .field("rate_limits_enabled", &self.rate_limits_enabled)
            .field("crawlers", &self.crawlers)
            .field("app_view", &self.app_view)
            .finish_non_exhaustive()
    }
}

/// A configuration value that is missing or wrong; the message names the
/// variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{var} is required (or --{flag})")]
    Missing {
        /// The variable.
        var: &'static str,
        /// The flag that can stand in for it.
        flag: &'static str,
    },
    /// A variable's value is not what it should be.
    #[error("{var}: {problem}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

fn invalid(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        problem: problem.into(),
    }
}

/// An unset or empty value counts as unset, as in the reference.
fn given(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn required(
    v: Option<String>,
    var: &'static str,
    flag: &'static str,
) -> Result<String, ConfigError> {
    given(v).ok_or(ConfigError::Missing { var, flag })
}

/// `true`/`1` or `false`/`0`, as the reference's `envBool`.
fn boolean(v: Option<String>, var: &'static str, default: bool) -> Result<bool, ConfigError> {
    match given(v).as_deref().map(str::trim) {
        None => Ok(default),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => Err(invalid(
            var,
            format!("{other:?} is not true, false, 1 or 0"),
        )),
    }
}

/// A comma-separated list, entries trimmed, empty ones dropped.
fn list(v: Option<String>) -> Vec<String> {
    given(v)
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn http_url(v: &str, var: &'static str) -> Result<String, ConfigError> {
    let v = v.trim().trim_end_matches('/');
    if (v.starts_with("http://") || v.starts_with("https://")) && !v.contains(char::is_whitespace) {
        Ok(v.to_string())
    } else {
        Err(invalid(var, format!("{v:?} is not an http(s) URL")))
    }
}

impl Config {
    /// Checks `args` and fills the defaults.
    ///
    /// # Errors
    /// The first missing or invalid value, as a [`ConfigError`].
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        let port = match given(args.port) {
            None => DEFAULT_PORT,
            Some(p) => p
                .trim()
                .parse()
                .map_err(|_| invalid("PDS_PORT", format!("{p:?} is not a port (0-65535)")))?,
        };
        let hostname: String =
            given(args.hostname).map_or_else(|| "localhost".into(), |h| h.trim().into());
        if hostname.contains(['/', ':', ' ']) {
            return Err(invalid(
                "PDS_HOSTNAME",
                format!("{hostname:?} is not a hostname (no scheme, port or path)"),
            ));
        }
        let data_directory = args
            .data_directory
            .filter(|p| !p.as_os_str().is_empty())
            .ok_or(ConfigError::Missing {
                var: "PDS_DATA_DIRECTORY",
                flag: "data-directory",
            })?;
        let blob_directory = args
            .blobstore_disk_location
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| data_directory.join("blobs"));
        let plc_url = match given(args.did_plc_url) {
            None => DEFAULT_PLC_URL.to_string(),
            Some(u) => http_url(&u, "PDS_DID_PLC_URL")?,
        };
        let mut handle_domains = list(args.service_handle_domains);
        if handle_domains.is_empty() {
            handle_domains.push(if hostname == "localhost" {
                ".test".into()
            } else {
                format!(".{hostname}")
            });
        }
        if let Some(bad) = handle_domains
            .iter()
            .find(|d| d.len() < 2 || !d.starts_with('.'))
        {
            return Err(invalid(
                "PDS_SERVICE_HANDLE_DOMAINS",
                format!("{bad:?} does not start with a dot"),
            ));
        }
        let service_did = given(args.service_did).unwrap_or_else(|| format!("did:web:{hostname}"));
        let service_did: Did = service_did
            .parse()
            .map_err(|e| invalid("PDS_SERVICE_DID", format!("{service_did:?}: {e}")))?;
        let jwt_secret = required(args.jwt_secret, "PDS_JWT_SECRET", "jwt-secret")?;
        let admin_password = required(args.admin_password, "PDS_ADMIN_PASSWORD", "admin-password")?;
        let key_hex = required(
            args.plc_rotation_key_k256_private_key_hex,
            "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
            "plc-rotation-key-k256-private-key-hex",
        )?;
        let plc_rotation_key = parse_k256_hex(&key_hex)
            .map_err(|problem| invalid("PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX", problem))?;
        let app_view = match (given(args.bsky_app_view_url), given(args.bsky_app_view_did)) {
            (None, None) => None,
            (Some(url), Some(did)) => {
                let did = did.trim();
                did.parse::<Did>()
                    .map_err(|e| invalid("PDS_BSKY_APP_VIEW_DID", format!("{did:?}: {e}")))?;
                Some(AppView {
                    url: http_url(&url, "PDS_BSKY_APP_VIEW_URL")?,
                    did: did.to_string(),
                })
            }
            (Some(_), None) => {
                return Err(invalid(
                    "PDS_BSKY_APP_VIEW_DID",
                    "required when PDS_BSKY_APP_VIEW_URL is set",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "PDS_BSKY_APP_VIEW_URL",
                    "required when PDS_BSKY_APP_VIEW_DID is set",
                ));
            }
        };
        let blob_upload_limit = match given(args.blob_upload_limit) {
            None => DEFAULT_BLOB_UPLOAD_LIMIT,
            Some(v) => v.trim().parse().map_err(|_| {
                invalid(
                    "PDS_BLOB_UPLOAD_LIMIT",
                    format!("{v:?} is not a byte count"),
                )
            })?,
        };
        Ok(Config {
            port,
            hostname,
            data_directory,
            blob_directory,
            plc_url,
            handle_domains,
            service_did,
            jwt_secret,
            admin_password,
            plc_rotation_key,
            invite_required: boolean(args.invite_required, "PDS_INVITE_REQUIRED", true)?,
            dev_mode: boolean(args.dev_mode, "PDS_DEV_MODE", false)?,
            rate_limits_enabled: boolean(
                args.rate_limits_enabled,
                "PDS_RATE_LIMITS_ENABLED",
                true,
            )?,
            crawlers: list(args.crawlers),
            app_view,
            blob_upload_limit,
            privacy_policy_url: given(args.privacy_policy_url),
            terms_of_service_url: given(args.terms_of_service_url),
            contact_email: given(args.contact_email_address),
        })
    }

    /// The URL clients and DID documents use: `http://<hostname>:<port>` in
    /// dev mode, else `https://<hostname>`. `port` is the one bound (the
    /// configured one may be 0).
    pub fn public_url(&self, port: u16) -> String {
        if self.dev_mode {
            format!("http://{}:{port}", self.hostname)
        } else {
            format!("https://{}", self.hostname)
        }
    }
}

/// A secp256k1 private key from 64 hex digits.
fn parse_k256_hex(hex_key: &str) -> Result<Keypair, String> {
    let bytes = hex::decode(hex_key.trim()).map_err(|e| format!("not hex: {e}"))?;
    if bytes.len() != 32 {
        return Err(format!(
            "{} bytes, expected 32 (64 hex digits)",
            bytes.len()
        ));
    }
    Keypair::from_private_bytes(Curve::K256, &bytes)
        .map_err(|_| "not a valid secp256k1 private key".to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const KEY: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    fn args(extra: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec![
            "pds",
            "--data-directory",
            "/tmp/pds-config-test",
            "--jwt-secret",
            "s",
            "--admin-password",
            "a",
            "--plc-rotation-key-k256-private-key-hex",
            KEY,
        ];
        argv.extend_from_slice(extra);
        Config::from_args(Args::try_parse_from(argv).unwrap())
    }

    #[test]
    fn defaults_follow_the_reference() {
        let c = args(&[]).unwrap();
        assert_eq!(c.port, 2583);
        assert_eq!(c.hostname, "localhost");
        assert_eq!(c.handle_domains, [".test"]);
        assert_eq!(c.service_did.as_str(), "did:web:localhost");
        assert_eq!(c.plc_url, "https://plc.directory");
        assert!(c.invite_required && !c.dev_mode && c.rate_limits_enabled);
        assert_eq!(
            c.blob_directory,
            PathBuf::from("/tmp/pds-config-test/blobs")
        );
        assert_eq!(c.public_url(2583), "https://localhost");
        assert_eq!(c.app_view, None);
    }

    #[test]
    fn values_are_read_and_derived() {
        let c = args(&[
            "--hostname",
            "pds.example.com",
            "--port",
            "0",
            "--dev-mode",
            "1",
            "--invite-required",
            "false",
            "--rate-limits-enabled",
            "false",
            "--crawlers",
            "https://bsky.network, ,https://relay.example",
            "--bsky-app-view-url",
            "http://127.0.0.1:9000/",
            "--bsky-app-view-did",
            "did:web:appview.test",
            "--did-plc-url",
            "http://127.0.0.1:2582",
        ])
        .unwrap();
        assert_eq!(c.port, 0);
        assert_eq!(c.handle_domains, [".pds.example.com"]);
        assert_eq!(c.service_did.as_str(), "did:web:pds.example.com");
        assert_eq!(c.public_url(41234), "http://pds.example.com:41234");
        assert!(!c.invite_required && !c.rate_limits_enabled);
        assert_eq!(
            c.crawlers,
            ["https://bsky.network", "https://relay.example"]
        );
        let app_view = c.app_view.as_ref().unwrap();
        assert_eq!(app_view.url, "http://127.0.0.1:9000");
        assert_eq!(c.plc_url, "http://127.0.0.1:2582");
        // The rotation key is never shown.
        assert!(!format!("{c:?}").contains(KEY));
        assert!(!format!("{c:?}").contains("jwt_secret"));
    }

    #[test]
    fn errors_name_the_variable() {
        let missing =
            Config::from_args(Args::try_parse_from(["pds", "--data-directory", "/tmp/x"]).unwrap())
                .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "PDS_JWT_SECRET is required (or --jwt-secret)"
        );
        let cases: &[(&[&str], &str)] = &[
            (&["--port", "70000"], "PDS_PORT"),
            (&["--dev-mode", "yes"], "PDS_DEV_MODE"),
            (
                &["--service-handle-domains", "test"],
                "PDS_SERVICE_HANDLE_DOMAINS",
            ),
            (
                &["--bsky-app-view-url", "http://a"],
                "PDS_BSKY_APP_VIEW_DID",
            ),
            (&["--did-plc-url", "plc.directory"], "PDS_DID_PLC_URL"),
            (&["--hostname", "https://x"], "PDS_HOSTNAME"),
        ];
        for (extra, var) in cases {
            let e = args(extra).unwrap_err().to_string();
            assert!(e.starts_with(var), "{extra:?}: {e}");
            assert!(!e.contains('\n'));
        }
        let mut bad_key = vec!["pds", "--data-directory", "/tmp/x", "--jwt-secret", "s"];
        bad_key.extend([
            "--admin-password",
            "a",
            "--plc-rotation-key-k256-private-key-hex",
            "00",
        ]);
        let e = Config::from_args(Args::try_parse_from(bad_key).unwrap()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: 1 bytes")
        );
    }
}
