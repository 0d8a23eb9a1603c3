//! A real SMTP server on loopback for the mail tests (`mailin-embedded`): Folio talks SMTP to
//! it exactly as to a production server, and the tests read what it received, decoded as a
//! mail client would.

#![allow(dead_code)]

use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::{Handler, Response, Server, SslConfig, response};

/// A mail as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope's recipients.
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a well-formed mail")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .expect("a plain-text part")
            .into_owned()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .expect("an HTML part")
            .into_owned()
    }

    /// The first link in the plain-text part that starts with `prefix` (e.g.
    /// `http://127.0.0.1:PORT/password/reset/`).
    pub fn link(&self, prefix: &str) -> String {
        let text = self.text();
        let start = text
            .find(prefix)
            .unwrap_or_else(|| panic!("no link starting {prefix} in:\n{text}"));
        text[start..]
            .split(char::is_whitespace)
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Clone, Default)]
struct Inbox {
    mails: Arc<Mutex<Vec<Received>>>,
    current: Option<(Vec<String>, Vec<u8>)>,
}

impl Handler for Inbox {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some((to.to_vec(), Vec::new()));
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some((_, data)) = &mut self.current {
            data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some((to, raw)) = self.current.take() {
            self.mails
                .lock()
                .expect("inbox lock")
                .push(Received { to, raw });
        }
        response::OK
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }
}

pub struct MailServer {
    pub port: u16,
    mails: Arc<Mutex<Vec<Received>>>,
}

impl MailServer {
    /// Starts on a free port.
    pub fn start() -> Self {
        Self::serve(TcpListener::bind("127.0.0.1:0").expect("a free port"))
    }

    /// Starts on `port` (one that was free a moment ago: the server that "comes back").
    pub fn start_on(port: u16) -> Self {
        Self::serve(TcpListener::bind(("127.0.0.1", port)).expect("the port is free again"))
    }

    /// A port with nothing listening on it: a mail server that is down.
    pub fn unused_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    }

    fn serve(listener: TcpListener) -> Self {
        let port = listener.local_addr().expect("bound").port();
        let inbox = Inbox::default();
        let mails = inbox.mails.clone();
        let mut server = Server::new(inbox);
        server
            .with_name("mail.test")
            .with_num_threads(4)
            .with_tcp_listener(listener);
        server.with_ssl(SslConfig::None).expect("no TLS");
        // Serves until the test binary ends.
        std::thread::spawn(move || {
            if let Err(e) = server.serve() {
                eprintln!("the test SMTP server stopped: {e}");
            }
        });
        Self { port, mails }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn all(&self) -> Vec<Received> {
        self.mails.lock().expect("inbox lock").clone()
    }

    /// Mails to `address` so far.
    pub fn to(&self, address: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits (up to 20 s) until `address` has received `count` mails, and returns them.
    pub async fn wait_for(&self, address: &str, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let mails = self.to(address);
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{address} received {} of {count} mails; the server has {:?}",
            self.to(address).len(),
            self.all().iter().map(|m| &m.to).collect::<Vec<_>>()
        );
    }
}
