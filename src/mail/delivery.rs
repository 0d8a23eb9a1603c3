//! The sender: a thread of its own that takes due mails from the outbox and hands them to the
//! mail server (or writes them as `.eml` files), retrying with back-off. Pages only queue
//! mail and wake it, so a slow or absent mail server never holds a page up.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{FileTransport, SmtpTransport, Transport as _};

use super::letters::Letters;
use super::links;
use super::{SmtpSecurity, SmtpUrl};
use crate::db::{self, Db, outbox};
use crate::metrics::MAILS;

/// A claim outlives any one send (lettre's timeout is per read or write).
const LEASE_SECS: i64 = 5 * 60;
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts before a mail is given up (with the default back-off, over about 12 hours).
const MAX_ATTEMPTS: i32 = 12;
const MAX_BACKOFF_SECS: u64 = 4 * 60 * 60;

/// How patiently the sender retries.
#[derive(Debug, Clone, Copy)]
pub struct OutboxOptions {
    /// The wait after the first failed attempt; it doubles with each failure.
    pub retry_base: Duration,
    /// How often the outbox is looked at when nothing wakes the sender (for mail queued by
    /// other instances, and retries).
    pub poll: Duration,
}

/// Where mail goes.
pub enum Transport {
    Smtp(SmtpTransport),
    /// `.eml` files in a folder, for running without a mail server.
    Files(FileTransport, std::path::PathBuf),
}

impl Transport {
    pub fn smtp(url: &SmtpUrl) -> Result<Self, String> {
        let tls_parameters =
            || TlsParameters::new(url.host.clone()).map_err(|e| format!("TLS: {e}"));
        let tls = match url.security {
            // A password never crosses the network in clear: with credentials, STARTTLS is
            // required (a server on this machine excepted), so a man in the middle cannot
            // strip it.
            SmtpSecurity::StartTlsWhenOffered if url.user.is_some() && !url.is_loopback() => {
                Tls::Required(tls_parameters()?)
            }
            SmtpSecurity::StartTlsWhenOffered => Tls::Opportunistic(tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = SmtpTransport::builder_dangerous(url.host.as_str())
            .port(url.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(2));
        if let Some(user) = &url.user {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                url.password().unwrap_or_default().to_owned(),
            ));
        }
        Ok(Self::Smtp(builder.build()))
    }

    /// Writes mails into `dir`, made if missing.
    pub fn files(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self::Files(FileTransport::new(dir), dir.to_owned()))
    }

    /// Hands one formatted mail over. `Err((refused, why))`: a mail the server refuses for
    /// good is not retried.
    fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<String, (bool, String)> {
        match self {
            Self::Smtp(smtp) => smtp
                .send_raw(envelope, message)
                .map(|response| format!("accepted: {}", response.code()))
                .map_err(|e| (refuses_the_recipient(&e), e.to_string())),
            Self::Files(files, dir) => files
                .send_raw(envelope, message)
                .map(|id| format!("written to {}", dir.join(format!("{id}.eml")).display()))
                .map_err(|e| (false, e.to_string())),
        }
    }
}

/// Whether the server refused this mail's recipient for good (550 no such mailbox, 551, 553
/// bad address). Every other failure, permanent codes included (535 wrong password, 530 TLS
/// required, a 554 greeting), is the server's or the settings' and is retried: fixing them
/// must not have cost the queued mail.
fn refuses_the_recipient(error: &lettre::transport::smtp::Error) -> bool {
    error
        .status()
        .is_some_and(|code| matches!(code.to_string().as_str(), "550" | "551" | "553"))
}

/// Wakes the sender when a mail has been queued. The sender stops once every `Outbox` is gone
/// (the server has stopped).
pub struct Outbox {
    wake: SyncSender<()>,
}

impl Outbox {
    /// Starts the sender thread.
    pub fn start(
        db: Db,
        transport: Transport,
        letters: Letters,
        from: Mailbox,
        options: OutboxOptions,
    ) -> std::io::Result<Self> {
        let (wake, woken) = sync_channel(1);
        let sender = Sender {
            db,
            transport,
            letters,
            from,
            options,
        };
        std::thread::Builder::new()
            .name("folio-mail".into())
            .spawn(move || sender.run(&woken))?;
        Ok(Self { wake })
    }

    /// A mail was queued: send it now rather than at the next poll.
    pub fn wake(&self) {
        // A full channel means a wake-up is already pending.
        let _ = self.wake.try_send(());
    }

    /// A mail was queued by a page whose timing must not depend on what the mail turns out
    /// to be (the forgot form): the sender starts a moment after the answer has gone, so its
    /// work (more for an address with an account) never overlaps the page's own writes.
    pub fn wake_after_answer(&self) {
        let wake = self.wake.clone();
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(AFTER_ANSWER).await;
            let _ = wake.try_send(());
        });
    }
}

/// Long enough for a page's session write and response to be done.
const AFTER_ANSWER: Duration = Duration::from_millis(100);

struct Sender {
    db: Db,
    transport: Transport,
    letters: Letters,
    from: Mailbox,
    options: OutboxOptions,
}

impl Sender {
    fn run(&self, woken: &Receiver<()>) {
        loop {
            loop {
                match self.send_one() {
                    Ok(true) => {}
                    Ok(false) => break,
                    // An outage of the database is logged once by its pool, not every poll.
                    Err(e) if crate::db::is_unavailable(&e) => break,
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "the outbox cannot be read");
                        break;
                    }
                }
            }
            match woken.recv_timeout(self.options.poll) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Sends the oldest due mail, if there is one.
    fn send_one(&self) -> anyhow::Result<bool> {
        let now = db::now();
        let mut conn = self.db.conn()?;
        // A read first, so an idle sender takes no write lock.
        if outbox::nothing_due(&mut conn, now)? {
            return Ok(false);
        }
        let Some(claimed) = outbox::claim(&mut conn, now, LEASE_SECS)? else {
            return Ok(false);
        };
        let Some(mail) = links::write(&mut conn, &self.letters, &claimed)? else {
            outbox::done(&mut conn, &claimed)?;
            tracing::info!(mail_id = claimed.id, "mail no longer needed");
            return Ok(true);
        };
        // The connection goes back to the pool while the mail server is talked to.
        drop(conn);
        let outcome = mail
            .recipient
            .parse()
            .map_err(|e| (true, format!("not an address: {e}")))
            .and_then(|to| {
                let envelope = Envelope::new(Some(self.from.email.clone()), vec![to])
                    .map_err(|e| (true, e.to_string()))?;
                self.transport.send(&envelope, &mail.message)
            });
        let mut conn = self.db.conn()?;
        match outcome {
            Ok(what) => {
                outbox::done(&mut conn, &claimed)?;
                metrics::counter!(MAILS, "outcome" => "sent").increment(1);
                tracing::info!(mail_id = claimed.id, "mail {what}");
            }
            Err((refused, why)) if refused || claimed.attempts >= MAX_ATTEMPTS => {
                outbox::done(&mut conn, &claimed)?;
                metrics::counter!(MAILS, "outcome" => "given_up").increment(1);
                tracing::error!(
                    mail_id = claimed.id,
                    attempts = claimed.attempts,
                    error = %why,
                    "mail given up"
                );
            }
            Err((_, why)) => {
                let wait = self.backoff(claimed.attempts);
                outbox::retry_at(&mut conn, &claimed, db::now() + wait, &why)?;
                metrics::counter!(MAILS, "outcome" => "retry").increment(1);
                tracing::warn!(
                    mail_id = claimed.id,
                    attempts = claimed.attempts,
                    retry_in_secs = wait,
                    error = %why,
                    "mail not sent yet"
                );
            }
        }
        Ok(true)
    }

    /// Seconds to wait after the `attempts`-th failure: the base, doubled each time, capped.
    fn backoff(&self, attempts: i32) -> i64 {
        let base = self.options.retry_base.as_secs().max(1);
        let doubled = base.saturating_mul(1 << attempts.clamp(1, 20).saturating_sub(1));
        doubled.min(MAX_BACKOFF_SECS) as i64
    }
}
