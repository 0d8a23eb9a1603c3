// Folio: passkeys (WebAuthn), on the security page (adding one) and the login page (signing
// in with one: the button, or the username field's autofill). Without this file, or without
// WebAuthn, both pages work with passwords, and their passkey parts stay hidden.
'use strict';

(function passkeys() {
  const supported =
    typeof window.PublicKeyCredential === 'function' &&
    !!navigator.credentials &&
    typeof navigator.credentials.create === 'function' &&
    typeof window.fetch === 'function';
  if (!supported) return;

  const GENERIC = 'Something went wrong. Try again.';

  /** Unpadded base64url (as the server writes binary) to bytes. */
  function toBuffer(text) {
    const base64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  /** Bytes to unpadded base64url. */
  function toText(buffer) {
    let binary = '';
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  /** The options without their empty (null) members, which browsers refuse. */
  function withoutNulls(value) {
    if (Array.isArray(value)) return value.map(withoutNulls);
    if (value && typeof value === 'object') {
      const out = {};
      for (const [key, member] of Object.entries(value)) {
        if (member !== null && member !== undefined) out[key] = withoutNulls(member);
      }
      return out;
    }
    return value;
  }

  function descriptors(list) {
    return (list || []).map((d) => ({ ...d, id: toBuffer(d.id) }));
  }

  function creationOptions(publicKey) {
    const o = withoutNulls(publicKey);
    return {
      ...o,
      challenge: toBuffer(o.challenge),
      user: { ...o.user, id: toBuffer(o.user.id) },
      excludeCredentials: descriptors(o.excludeCredentials),
    };
  }

  function requestOptions(publicKey) {
    const o = withoutNulls(publicKey);
    return { ...o, challenge: toBuffer(o.challenge), allowCredentials: descriptors(o.allowCredentials) };
  }

  function attestationJSON(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toText(r.attestationObject),
        clientDataJSON: toText(r.clientDataJSON),
        transports: typeof r.getTransports === 'function' ? r.getTransports() : undefined,
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  function assertionJSON(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toText(r.authenticatorData),
        clientDataJSON: toText(r.clientDataJSON),
        signature: toText(r.signature),
        userHandle: r.userHandle ? toText(r.userHandle) : null,
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  /** POSTs JSON with the session's token; `data` is the answer (a problem's `detail` on refusal). */
  async function post(url, token, body) {
    let response;
    try {
      response = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': token },
        body: JSON.stringify(body),
      });
    } catch {
      return { ok: false, data: { detail: 'The site could not be reached. Check your connection and try again.' } };
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    return { ok: response.ok, data: data || {} };
  }

  /** Goes to `path`, loading it anew even where only its #fragment differs from this page's. */
  function go(path) {
    const target = new URL(path, window.location.href);
    const here = new URL(window.location.href);
    target.hash = '';
    here.hash = '';
    if (target.href === here.href) {
      window.location.hash = new URL(path, window.location.href).hash;
      window.location.reload();
    } else {
      window.location.assign(path);
    }
  }

  /** Shows `message` (or nothing) in the page's alert region; returns the message's id. */
  function say(alert, message) {
    alert.replaceChildren();
    if (!message) return null;
    const p = document.createElement('p');
    p.className = 'error banner';
    p.id = `${alert.id}-message`;
    p.textContent = message;
    alert.append(p);
    return p.id;
  }

  /** Why the browser made or gave no passkey, in words. */
  function browserRefusal(error, adding) {
    if (error && error.name === 'InvalidStateError' && adding) {
      return 'This device already holds a passkey for your account.';
    }
    if (error && error.name === 'NotAllowedError') {
      return adding
        ? 'No passkey was made: the request was cancelled or took too long.'
        : 'No passkey was used: the request was cancelled or took too long.';
    }
    if (error && error.name === 'SecurityError') {
      return 'This browser refused passkeys for this address.';
    }
    return adding ? 'No passkey was made. Try again.' : 'No passkey was used. Try again.';
  }

  // The security page: add a passkey, after the password.
  const addForm = document.getElementById('passkey-add-form');
  if (addForm) {
    const alert = document.getElementById('passkey-alert');
    const button = document.getElementById('passkey-add');
    const fields = {
      name: document.getElementById('passkey-name'),
      password: document.getElementById('passkey-password'),
    };
    const hints = { name: 'passkey-name-hint', password: '' };
    addForm.hidden = false;
    document.getElementById('passkeys-need-js')?.setAttribute('hidden', '');

    const mark = (field, messageId) => {
      const input = fields[field];
      if (!input) return;
      if (messageId) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', [messageId, hints[field]].filter(Boolean).join(' '));
      } else {
        input.removeAttribute('aria-invalid');
        if (hints[field]) input.setAttribute('aria-describedby', hints[field]);
        else input.removeAttribute('aria-describedby');
      }
    };
    const fail = (answer) => {
      const id = say(alert, answer.data.detail || GENERIC);
      const field = Object.keys(answer.data.errors || {}).find((f) => f in fields);
      if (field) {
        mark(field, id);
        fields[field].focus();
      }
    };

    addForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (button.disabled) return;
      say(alert, null);
      mark('name', null);
      mark('password', null);
      button.disabled = true;
      try {
        const token = addForm.dataset.csrf;
        const name = fields.name.value;
        const started = await post('/account/passkeys/options', token, { name, password: fields.password.value });
        if (!started.ok) {
          fail(started);
          return;
        }
        let credential;
        try {
          credential = await navigator.credentials.create({ publicKey: creationOptions(started.data.options.publicKey) });
        } catch (error) {
          say(alert, browserRefusal(error, true));
          return;
        }
        const finished = await post('/account/passkeys', token, {
          challenge: started.data.challenge,
          name,
          credential: attestationJSON(credential),
        });
        if (!finished.ok) {
          fail(finished);
          return;
        }
        go(finished.data.redirect || '/account/security');
      } finally {
        button.disabled = false;
      }
    });
  }

  // The login page: a button, and the username field's autofill (conditional mediation).
  const area = document.getElementById('passkey-login-area');
  if (area) {
    const alert = document.getElementById('passkey-alert');
    const button = document.getElementById('passkey-login');
    const token = area.dataset.csrf;
    const next = area.dataset.next || '/';
    area.hidden = false;

    let autofill = null; // { controller, done }: the autofill request while it waits

    /** `controller`: the autofill's (a conditional request it can abort); `null` for the button. */
    async function signIn(controller) {
      const conditional = controller !== null;
      const started = await post('/login/passkey/options', token, {});
      if (!started.ok) {
        if (!conditional) say(alert, started.data.detail || GENERIC);
        return;
      }
      const options = { publicKey: requestOptions(started.data.options.publicKey) };
      if (conditional) {
        if (controller.signal.aborted) return;
        options.mediation = 'conditional';
        options.signal = controller.signal;
        area.dataset.autofill = 'waiting';
      }
      let credential;
      try {
        credential = await navigator.credentials.get(options);
      } catch (error) {
        if (!conditional || error.name !== 'AbortError') say(alert, browserRefusal(error, false));
        return;
      } finally {
        if (conditional) delete area.dataset.autofill;
      }
      if (!credential) return;
      say(alert, null);
      const finished = await post('/login/passkey', token, {
        challenge: started.data.challenge,
        credential: assertionJSON(credential),
        next,
      });
      if (!finished.ok) {
        say(alert, finished.data.detail || GENERIC);
        return;
      }
      go(finished.data.redirect || '/');
    }

    async function startAutofill() {
      if (autofill || typeof PublicKeyCredential.isConditionalMediationAvailable !== 'function') return;
      let available = false;
      try {
        available = await PublicKeyCredential.isConditionalMediationAvailable();
      } catch {
        available = false;
      }
      if (!available || autofill) return;
      const controller = new AbortController();
      autofill = { controller, done: null };
      const current = autofill;
      current.done = signIn(controller).finally(() => {
        if (autofill === current) autofill = null;
      });
    }

    button.addEventListener('click', async () => {
      if (button.disabled) return;
      button.disabled = true;
      say(alert, null);
      try {
        // One request at a time: the autofill's gives way to the button's.
        if (autofill) {
          const waiting = autofill;
          autofill = null;
          waiting.controller.abort();
          await waiting.done;
        }
        await signIn(null);
      } finally {
        button.disabled = false;
      }
      startAutofill();
    });

    startAutofill();
  }
})();
