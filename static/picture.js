// The profile picture form, enhanced. Without this file the form posts as a plain multipart
// form and the server answers with a page; with it:
// - the whole field is a drop zone (dropping onto the file input itself works without it too);
// - the chosen file is checked before sending, with the server's own words;
// - a preview shows the centred square that will be kept, stood upright by its EXIF
//   orientation as the server does;
// - the upload runs with a progress bar, and the page is updated from the server's answer
//   without a reload.
'use strict';

(function () {
  const ACCEPTED = 'Upload a JPEG, PNG, GIF or WebP picture.';
  // The same words as the server's (src/avatar/process.rs `Rejection`, src/routes/picture.rs),
  // so a person reads one message whichever side finds the problem.
  const MESSAGES = {
    empty: 'The file is empty. Choose a picture file.',
    notAnImage: `This file is not a picture. ${ACCEPTED}`,
    unsupported: (kind) => `${kind} files are not accepted. ${ACCEPTED}`,
    tooManyPixels:
      'This picture has too many pixels. Pictures may have at most 50 megapixels and 16,384 pixels on a side.',
    tooLarge: (limit) => `This file is larger than ${limit}. Choose a smaller picture.`,
    unreachable: 'The picture could not be sent: the connection failed. Check it and try again.',
    failed: 'The picture could not be uploaded. Reload the page and try again.',
  };
  // If a Content-Security-Policy without `connect-src 'self'` refuses the upload request, the
  // form is posted the plain way instead.
  let connectRefused = false;
  document.addEventListener('securitypolicyviolation', (event) => {
    if (event.effectiveDirective === 'connect-src' || event.violatedDirective === 'connect-src') {
      connectRefused = true;
    }
  });
  const MAX_SIDE = 16384;
  const MAX_PIXELS = 50000000;
  const SIZE = 300;

  if (!window.FormData || !window.XMLHttpRequest || !window.DataTransfer) {
    return;
  }

  /** What a file is by its first bytes, as src/avatar/sniff.rs judges it. */
  function sniff(bytes) {
    if (bytes.length === 0) return { empty: true };
    const starts = (magic, at = 0) =>
      bytes.length >= at + magic.length && magic.every((b, i) => bytes[at + i] === b);
    const ascii = (text) => Array.from(text, (c) => c.charCodeAt(0));
    if (starts([0xff, 0xd8, 0xff])) return { accepted: 'JPEG' };
    if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { accepted: 'PNG' };
    if (starts(ascii('GIF87a')) || starts(ascii('GIF89a'))) return { accepted: 'GIF' };
    if (bytes.length >= 12 && starts(ascii('RIFF')) && starts(ascii('WEBP'), 8)) {
      return { accepted: 'WebP' };
    }
    if (bytes.length >= 12 && starts(ascii('ftyp'), 4)) {
      const brand = String.fromCharCode(...bytes.slice(8, 12));
      if (['avif', 'avis'].includes(brand)) return { refused: 'AVIF' };
      if (['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) {
        return { refused: 'HEIC' };
      }
      return { refused: 'Video' };
    }
    if (starts(ascii('%PDF-'))) return { refused: 'PDF' };
    if (starts(ascii('II*\0')) || starts(ascii('MM\0*'))) return { refused: 'TIFF' };
    if (starts(ascii('BM')) && bytes.length >= 26) return { refused: 'BMP' };
    if (starts([0, 0, 1, 0]) || starts([0, 0, 2, 0])) return { refused: 'ICO' };
    if (starts(ascii('8BPS'))) return { refused: 'Photoshop' };
    if (starts([0xff, 0x0a]) || starts(ascii('\0\0\0\x0cJXL \r\n\x87\n'))) {
      return { refused: 'JPEG XL' };
    }
    if (starts(ascii('\0\0\0\x0cjP  \r\n\x87\n'))) return { refused: 'JPEG 2000' };
    if (starts(ascii('qoif'))) return { refused: 'QOI' };
    const text = new TextDecoder()
      .decode(bytes.slice(0, 1024))
      .toLowerCase()
      .replace(/^\ufeff/, '')
      .trimStart();
    if (
      (text.startsWith('<?xml') || text.startsWith('<svg') || text.startsWith('<!doctype svg')) &&
      text.includes('<svg')
    ) {
      return { refused: 'SVG' };
    }
    return { unknown: true };
  }

  /** Decodes with the EXIF orientation applied, as the server stands pictures upright. */
  async function decode(file) {
    try {
      return await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch {
      return null;
    }
  }

  /**
   * Checks a file as the server would, in the server's order: size, then kind, then pixels.
   * Resolves to `{ error }` or `{ bitmap }` (null when the browser cannot draw it: the server
   * decides then).
   */
  async function inspect(file, form) {
    const maxBytes = Number(form.dataset.maxBytes);
    if (file.size === 0) return { error: MESSAGES.empty };
    if (maxBytes > 0 && file.size > maxBytes) {
      return { error: MESSAGES.tooLarge(form.dataset.maxLabel) };
    }
    const head = new Uint8Array(await file.slice(0, 1024).arrayBuffer());
    const kind = sniff(head);
    if (kind.empty) return { error: MESSAGES.empty };
    if (kind.refused) return { error: MESSAGES.unsupported(kind.refused) };
    if (kind.unknown) return { error: MESSAGES.notAnImage };
    const bitmap = await decode(file);
    if (
      bitmap &&
      (bitmap.width > MAX_SIDE ||
        bitmap.height > MAX_SIDE ||
        bitmap.width * bitmap.height > MAX_PIXELS)
    ) {
      return { error: MESSAGES.tooManyPixels };
    }
    return { bitmap };
  }

  /** Draws the largest centred square, on white (transparent parts become white). */
  function drawPreview(canvas, bitmap) {
    const ctx = canvas.getContext('2d');
    const side = Math.min(bitmap.width, bitmap.height);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, SIZE, SIZE);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(
      bitmap,
      (bitmap.width - side) / 2,
      (bitmap.height - side) / 2,
      side,
      side,
      0,
      0,
      SIZE,
      SIZE,
    );
  }

  function enhance(form) {
    const input = form.querySelector('#picture');
    const zone = form.querySelector('#picture-drop');
    const preview = form.querySelector('#picture-preview');
    const canvas = form.querySelector('#picture-preview-canvas');
    const progressRow = form.querySelector('#picture-progress-row');
    const progress = form.querySelector('#picture-progress');
    const submit = form.querySelector('#picture-submit');
    const hint = form.querySelector('#picture-hint');
    if (!input || !zone || !preview || !canvas || !progressRow || !progress || !submit) return;
    let checked = null;

    form.classList.add('enhanced');
    form.querySelector('#picture-drop-note')?.removeAttribute('hidden');

    function showError(text) {
      let message = form.querySelector('#picture-error');
      if (!message) {
        message = document.createElement('p');
        message.className = 'error';
        message.id = 'picture-error';
        hint.before(message);
      }
      message.setAttribute('role', 'alert');
      message.textContent = text;
      zone.classList.add('invalid');
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', 'picture-error picture-hint');
      input.focus();
    }

    function clearError() {
      form.querySelector('#picture-error')?.remove();
      zone.classList.remove('invalid');
      input.removeAttribute('aria-invalid');
      input.setAttribute('aria-describedby', 'picture-hint');
    }

    function choose(file) {
      clearError();
      preview.hidden = true;
      if (!file) {
        checked = null;
        return;
      }
      checked = inspect(file, form).then((result) => {
        if (input.files[0] !== file) return result; // another file was chosen meanwhile
        if (result.error) {
          showError(result.error);
        } else if (result.bitmap) {
          drawPreview(canvas, result.bitmap);
          preview.hidden = false;
        }
        return result;
      });
    }

    input.addEventListener('change', () => choose(input.files[0]));

    // The whole field takes a dropped file, as if it had been chosen in the input.
    zone.addEventListener('dragover', (event) => {
      if (!event.dataTransfer?.types.includes('Files')) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      zone.classList.add('dragging');
    });
    zone.addEventListener('dragleave', (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove('dragging');
    });
    zone.addEventListener('drop', (event) => {
      zone.classList.remove('dragging');
      const file = event.dataTransfer?.files[0];
      if (!file) return;
      event.preventDefault();
      const chosen = new DataTransfer();
      chosen.items.add(file);
      input.files = chosen.files;
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (submit.disabled) return;
      const file = input.files[0];
      if (!file) {
        input.reportValidity();
        return;
      }
      const result = await (checked ?? inspect(file, form));
      if (result.error) {
        showError(result.error);
        return;
      }
      send(form, { progressRow, progress, submit, showError });
    });
  }

  /** Posts the same multipart form; the answer is a page, and the page is updated from it. */
  function send(form, { progressRow, progress, submit, showError }) {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.responseType = 'document';
    progress.value = 0;
    progress.textContent = '0%';
    progressRow.hidden = false;
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    const done = () => {
      progressRow.hidden = true;
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    };
    xhr.upload.addEventListener('progress', (event) => {
      if (!event.lengthComputable || event.total === 0) return;
      const percent = Math.round((event.loaded / event.total) * 100);
      progress.value = percent;
      progress.textContent = `${percent}%`;
    });
    xhr.addEventListener('error', () => {
      done();
      // The violation event may be queued just behind this one.
      setTimeout(() => {
        if (connectRefused) {
          HTMLFormElement.prototype.submit.call(form);
        } else {
          showError(MESSAGES.unreachable);
        }
      });
    });
    xhr.addEventListener('load', () => {
      done();
      const page = xhr.response;
      const section = page?.getElementById('picture-section');
      const landed = new URL(xhr.responseURL || form.action, location.href);
      const refused = xhr.status >= 400;
      if (section && (refused || landed.pathname === '/account')) {
        // Taken (303, followed to the account page) or refused (the account page with the
        // message beside the field).
        update(page, section, refused);
      } else if (!refused) {
        // Somewhere else (the session ended, say): go where the server sent us.
        location.assign(landed.href);
      } else {
        // An error page (an expired form, a slow upload…): its own words.
        showError(page?.querySelector('main h1 + p')?.textContent || MESSAGES.failed);
      }
    });
    xhr.send(new FormData(form));
  }

  /**
   * Takes the picture section, the small avatar in the header and the one-time message from
   * the account page the server answered with. After a refusal the section carries the message
   * beside the field, as it would after a plain post.
   */
  function update(page, section, refused) {
    const fresh = document.importNode(section, true);
    document.getElementById('picture-section').replaceWith(fresh);
    const navAvatar = document.getElementById('nav-avatar');
    const newNavAvatar = page.getElementById('nav-avatar');
    if (navAvatar && newNavAvatar) navAvatar.src = newNavAvatar.getAttribute('src');
    const messages = document.getElementById('messages');
    const newMessages = page.getElementById('messages');
    if (messages && newMessages) {
      messages.replaceChildren(...Array.from(newMessages.childNodes, (n) => document.importNode(n, true)));
    }
    const form = document.getElementById('picture-form');
    enhance(form);
    const input = form.querySelector('#picture');
    if (refused) {
      form.querySelector('#picture-error')?.setAttribute('role', 'alert');
    }
    input.focus();
  }

  const form = document.getElementById('picture-form');
  if (form) enhance(form);
})();
