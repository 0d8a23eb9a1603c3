//! Short-lived private cookies: a value the next page needs, carried by the browser encrypted
//! and authenticated with the site key, so that it is stored nowhere on the server (not even
//! in the session row). The new access token travels to the page that shows it this way.

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};

/// The site key for private cookies (app data), and whether cookies are `Secure`
/// (`FOLIO_COOKIE_SECURE`).
#[derive(Clone)]
pub struct PrivateCookies {
    key: Key,
    secure: bool,
}

impl PrivateCookies {
    pub fn new(key: Key, secure: bool) -> Self {
        Self { key, secure }
    }

    /// The cookie's name: `__Secure-` binds it to HTTPS, and is only valid with `Secure`.
    pub fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Secure-{base}")
        } else {
            base.to_owned()
        }
    }

    /// A cookie that carries `value` encrypted to requests under `path` for `max_age`,
    /// HttpOnly and same-site only. The name is part of what is authenticated, so no other
    /// cookie of ours (the session's, made with the same key) can stand in for it.
    pub fn seal(
        &self,
        base: &str,
        value: String,
        path: &str,
        max_age: Duration,
    ) -> Cookie<'static> {
        let cookie = Cookie::build(self.name(base), value)
            .path(path.to_owned())
            .max_age(max_age)
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Strict)
            .finish();
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key).add(cookie);
        let name = self.name(base);
        // `add` has just put it there; an empty cookie would only be ignored.
        jar.get(&name)
            .cloned()
            .unwrap_or_else(|| Cookie::new(name, ""))
    }

    /// The value of the request's cookie, if it is there and was sealed with our key.
    pub fn open(&self, req: &HttpRequest, base: &str) -> Option<String> {
        let cookie = req.cookie(&self.name(base))?;
        let jar = CookieJar::new();
        jar.private(&self.key)
            .decrypt(cookie)
            .map(|c| c.value().to_owned())
    }

    /// The same cookie, expired: the browser drops it.
    pub fn removal(&self, base: &str, path: &str) -> Cookie<'static> {
        let mut cookie = Cookie::build(self.name(base), "")
            .path(path.to_owned())
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Strict)
            .finish();
        cookie.make_removal();
        cookie
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_sealed_value_opens_with_its_key_and_name_only() {
        let cookies = PrivateCookies::new(Key::generate(), false);
        let sealed = cookies.seal("note", "secret".into(), "/account", Duration::minutes(5));
        assert!(!sealed.value().contains("secret"));
        assert_eq!(sealed.path(), Some("/account"));
        assert_eq!(sealed.http_only(), Some(true));
        assert_eq!(sealed.same_site(), Some(SameSite::Strict));
        assert_eq!(sealed.max_age(), Some(Duration::minutes(5)));

        let req = TestRequest::default()
            .cookie(sealed.clone())
            .to_http_request();
        assert_eq!(cookies.open(&req, "note").as_deref(), Some("secret"));

        let other_key = PrivateCookies::new(Key::generate(), false);
        assert_eq!(other_key.open(&req, "note"), None);

        // The same sealed value under another name does not open.
        let renamed = Cookie::new("other", sealed.value().to_owned());
        let req = TestRequest::default().cookie(renamed).to_http_request();
        assert_eq!(cookies.open(&req, "other"), None);

        let forged = Cookie::new("note", "secret");
        let req = TestRequest::default().cookie(forged).to_http_request();
        assert_eq!(cookies.open(&req, "note"), None);
    }

    #[test]
    fn secure_cookies_are_named_for_https() {
        let cookies = PrivateCookies::new(Key::generate(), true);
        let sealed = cookies.seal("note", "x".into(), "/account", Duration::minutes(5));
        assert_eq!(sealed.name(), "__Secure-note");
        assert_eq!(sealed.secure(), Some(true));
        let removal = cookies.removal("note", "/account");
        assert_eq!(removal.name(), "__Secure-note");
        assert_eq!(removal.max_age(), Some(Duration::ZERO));
    }
}
