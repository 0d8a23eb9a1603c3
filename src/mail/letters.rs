//! The mails Folio sends, each with a plain-text and an HTML part from one pair of
//! templates (`templates/mail/letter.{txt,html}`), formatted when the mail is sent.

use askama::Template;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

use crate::db::users::User;
use crate::domain::{Action, Notice};

/// What a mail is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A link to choose a new password.
    Reset,
    /// A link that confirms the account's own address (after registering, or sent again).
    Welcome,
    /// A link, sent to the new address, that makes it the account's address.
    ConfirmChange,
    /// To the old address once a change has been confirmed: the new address, partly hidden.
    AddressChanged { new_address: String },
    /// How the account signs in changed.
    Security(Notice),
    /// What a moderator did to the account, and their reason.
    Moderation { action: Action, reason: String },
}

/// What a moderator's action means for the member, in the mail that tells them.
pub fn moderation_notice(action: Action) -> &'static str {
    match action {
        Action::RemovePicture => {
            "removed the profile picture of your account. Your profile shows the default picture now; you may upload another that follows the site's rules."
        }
        Action::ClearProfile => {
            "cleared the display name, bio and website of your account. You may write them again from your account page, within the site's rules."
        }
        Action::Suspend => {
            "suspended your account. While it is suspended your profile and picture are shown to no one and you cannot log in; you were logged out everywhere and every access token of the account was revoked."
        }
        Action::Unsuspend => {
            "lifted the suspension of your account. You can log in again and your profile is back. Access tokens revoked by the suspension stay revoked: make new ones from your account page."
        }
        Action::Dismiss => "looked at reports about your account and took no action against it.",
    }
}

/// One mail's content; both parts render it.
pub struct Letter<'a> {
    pub kind: &'a Kind,
    /// Whom to greet: the display name (or the username) once the account's address is
    /// confirmed; until then anyone could have typed it, so no free text of theirs is mailed
    /// to an address that may not be theirs.
    pub name: Option<&'a str>,
    pub username: &'a str,
    /// The link to follow (empty for a notice).
    pub link: &'a str,
    /// `FOLIO_PUBLIC_URL`.
    pub site: &'a str,
}

#[derive(Template)]
#[template(path = "mail/letter.txt")]
struct Text<'a> {
    letter: &'a Letter<'a>,
}

#[derive(Template)]
#[template(path = "mail/letter.html")]
struct Html<'a> {
    letter: &'a Letter<'a>,
}

/// Writes mails from the site's sender, with links to the site's public address.
#[derive(Debug, Clone)]
pub struct Letters {
    from: Mailbox,
    site: String,
}

impl Letters {
    pub fn new(from: Mailbox, public_url: &str) -> Self {
        Self {
            from,
            site: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The mail of `kind` to `user` at `address`, formatted; `link_path` is the link's path
    /// on the site.
    pub fn write(
        &self,
        kind: &Kind,
        user: &User,
        address: &str,
        link_path: Option<&str>,
    ) -> anyhow::Result<Vec<u8>> {
        let link = link_path.map_or_else(String::new, |p| format!("{}{p}", self.site));
        let letter = Letter {
            kind,
            name: user
                .email_confirmed
                .then(|| user.display_name.as_deref().unwrap_or(&user.username)),
            username: &user.username,
            link: &link,
            site: &self.site,
        };
        let text = Text { letter: &letter }.render()?;
        let html = Html { letter: &letter }.render()?;
        let to: Mailbox = address
            .parse()
            .map_err(|e| anyhow::anyhow!("cannot mail '{address}': {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject(kind))
            // A fresh id of our own (with the host name): mail servers and clients expect one.
            .message_id(None)
            .multipart(MultiPart::alternative_plain_html(text, html))?;
        Ok(message.formatted())
    }
}

fn subject(kind: &Kind) -> &'static str {
    match kind {
        Kind::Reset => "Reset your Folio password",
        Kind::Welcome => "Confirm your email address for Folio",
        Kind::ConfirmChange => "Confirm your new email address for Folio",
        Kind::AddressChanged { .. } => "The email address of your Folio account was changed",
        Kind::Security(notice) => notice.subject(),
        Kind::Moderation { action, .. } => match action {
            Action::RemovePicture => "A moderator removed your Folio profile picture",
            Action::ClearProfile => "A moderator cleared your Folio profile",
            Action::Suspend => "Your Folio account is suspended",
            Action::Unsuspend => "Your Folio account is no longer suspended",
            Action::Dismiss => "Reports about your Folio account were dismissed",
        },
    }
}

/// `a***@example.org`: enough for the owner to recognise, not a gift to whoever reads the old
/// mailbox.
pub fn partly_hidden(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ada, with her address confirmed or not.
    fn user(display_name: Option<&str>, email_confirmed: bool) -> User {
        User {
            id: 7,
            username: "ada".into(),
            email: "ada@example.org".into(),
            picture: None,
            session_epoch: 0,
            created_at: 0,
            display_name: display_name.map(Into::into),
            bio: None,
            website: None,
            email_confirmed,
            moderator: false,
            suspended_at: None,
            picture_renditions: 0,
            share_by_email: false,
        }
    }

    #[test]
    fn a_moderation_mail_says_what_was_done_and_why() {
        for action in Action::ALL {
            let kind = Kind::Moderation {
                action,
                reason: "Links to <script>spam</script>.".into(),
            };
            let message = letters()
                .write(&kind, &user(Some("Ada"), true), "ada@example.org", None)
                .expect("written");
            let (subject, text, html) = read(&String::from_utf8(message).expect("utf-8"));
            assert_eq!(subject, super::subject(&kind), "{action:?}");
            assert!(text.contains(moderation_notice(action)), "{text}");
            assert!(text.contains("Links to <script>spam</script>."), "{text}");
            assert!(
                html.contains("Links to &#60;script&#62;spam&#60;/script&#62;.")
                    || html.contains("Links to &lt;script&gt;"),
                "{html}"
            );
            assert!(!html.contains("<script>"), "{html}");
        }
    }

    fn letters() -> Letters {
        let from = "Folio <folio@localhost>".parse().expect("mailbox");
        Letters::new(from, "https://folio.example/")
    }

    /// (subject, plain text, HTML) of a formatted mail, decoded as a mail client would.
    fn read(message: &str) -> (String, String, String) {
        let parsed = mail_parser::MessageParser::default()
            .parse(message.as_bytes())
            .expect("a mail");
        (
            parsed.subject().unwrap_or_default().to_owned(),
            parsed.body_text(0).unwrap_or_default().into_owned(),
            parsed.body_html(0).unwrap_or_default().into_owned(),
        )
    }

    #[test]
    fn a_reset_mail_has_both_parts_with_the_absolute_link() {
        let link = format!("/password/reset/{}", "T".repeat(43));
        let mail = letters()
            .write(
                &Kind::Reset,
                &user(Some("Ada Lovelace"), true),
                "ada@example.org",
                Some(&link),
            )
            .expect("written");
        let m = &String::from_utf8(mail).expect("UTF-8");
        assert!(m.contains("From: Folio <folio@localhost>"), "{m}");
        assert!(m.contains("To: ada@example.org"), "{m}");
        assert!(m.contains("multipart/alternative"), "{m}");
        assert!(m.contains("Message-ID:"), "{m}");
        let (subject, text, html) = read(m);
        assert_eq!(subject, "Reset your Folio password");
        let absolute = format!("https://folio.example{link}");
        assert!(text.contains(&absolute), "{text}");
        assert!(text.contains("Hello Ada Lovelace,"), "{text}");
        assert!(html.contains(&format!("href=\"{absolute}\"")), "{html}");
    }

    #[test]
    fn an_unconfirmed_address_is_not_sent_the_name_anyone_could_have_typed() {
        let mail = letters()
            .write(
                &Kind::Welcome,
                &user(Some("Win a prize at evil.example"), false),
                "ada@example.org",
                Some("/email/confirm/T"),
            )
            .expect("written");
        let mail = String::from_utf8(mail).expect("UTF-8");
        let (_, text, html) = read(&mail);
        assert_eq!(text.lines().next(), Some("Hello,"), "{text}");
        assert!(html.contains("<p>Hello,</p>"), "{html}");
        assert!(!mail.contains("evil"), "{mail}");
    }

    #[test]
    fn markup_in_a_name_is_escaped_in_the_html_part_only() {
        let letter = Letter {
            kind: &Kind::Welcome,
            name: Some("<b>Ada</b> & co"),
            username: "ada",
            link: "https://folio.example/email/confirm/T",
            site: "https://folio.example",
        };
        let html = Html { letter: &letter }.render().expect("rendered");
        assert!(
            html.contains("&#60;b&#62;Ada&#60;/b&#62; &#38; co"),
            "{html}"
        );
        assert!(!html.contains("<b>Ada"));
        let text = Text { letter: &letter }.render().expect("rendered");
        assert!(text.contains("Hello <b>Ada</b> & co,"), "{text}");
    }

    #[test]
    fn the_old_address_sees_the_new_one_partly_hidden() {
        assert_eq!(partly_hidden("bob@example.org"), "b***@example.org");
        let mail = letters()
            .write(
                &Kind::AddressChanged {
                    new_address: partly_hidden("bob@example.org"),
                },
                &user(Some("Ada"), true),
                "ada@example.org",
                None,
            )
            .expect("written");
        let mail = String::from_utf8(mail).expect("UTF-8");
        let (subject, text, html) = read(&mail);
        assert_eq!(
            subject,
            "The email address of your Folio account was changed"
        );
        assert!(text.contains("b***@example.org"), "{text}");
        assert!(html.contains("b***@example.org"), "{html}");
        assert!(!mail.contains("bob@"));
    }
}
