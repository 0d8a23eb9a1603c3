// The profile picture form, enhanced. Without this file the form posts as a plain multipart
// form and the server answers with a page; with it:
// - the whole field is a drop zone (dropping onto the file input itself works without it too);
// - the chosen file is checked before sending, with the server's own words;
// - the chosen picture is shown upright (by its EXIF orientation, as the server stands it),
//   with a square the person moves and resizes by mouse, touch or keyboard; a live preview
//   shows that square, and its numbers go with the file (crop_x, crop_y, crop_size, in pixels
//   of the upright picture). A picture the browser cannot show gets the centred square, said
//   in words, and no numbers;
// - the upload runs with a progress bar, and the page is updated from the server's answer
//   without a reload.
'use strict';

(function () {
  const ACCEPTED = 'Upload a JPEG, PNG, GIF, WebP, BMP, TIFF, ICO, JPEG XL, AVIF or HEIC picture.';
  // The same words as the server's (src/avatar/types.rs `Rejection`, src/routes/picture.rs),
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
      if (['avif', 'avis'].includes(brand)) return { accepted: 'AVIF' };
      // A generic HEIF brand: AVIF when its compatible brands say so.
      if (['mif1', 'msf1'].includes(brand)) {
        const boxSize = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
        const end = Math.min(boxSize, bytes.length);
        for (let at = 16; at + 4 <= end; at += 4) {
          if (['avif', 'avis'].includes(String.fromCharCode(...bytes.slice(at, at + 4)))) {
            return { accepted: 'AVIF' };
          }
        }
      }
      // HEVC stills and sequences, and other generic HEIF. Browsers seldom show them: then the
      // centred square, said in words.
      if (['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) {
        return { accepted: 'HEIC' };
      }
      return { refused: 'Video' };
    }
    if (starts(ascii('%PDF-'))) return { refused: 'PDF' };
    if (starts(ascii('II*\0')) || starts(ascii('MM\0*'))) return { accepted: 'TIFF' };
    if (starts(ascii('BM')) && bytes.length >= 26) return { accepted: 'BMP' };
    // Icons (type 1) and cursors (type 2) share the container.
    if (starts([0, 0, 1, 0]) || starts([0, 0, 2, 0])) return { accepted: 'ICO' };
    if (starts(ascii('8BPS'))) return { refused: 'Photoshop' };
    // A bare codestream, or the ISOBMFF container.
    if (starts([0xff, 0x0a]) || starts(ascii('\0\0\0\x0cJXL \r\n\x87\n'))) {
      return { accepted: 'JPEG XL' };
    }
    if (starts(ascii('\0\0\0\x0cjP  \r\n\x87\n'))) return { refused: 'JPEG 2000' };
    if (starts(ascii('qoif'))) return { refused: 'QOI' };
    let text = new TextDecoder()
      .decode(bytes.slice(0, 1024))
      .toLowerCase()
      .replace(/^\ufeff/, '')
      .trimStart();
    // XML allows comments before the root element.
    while (text.startsWith('<!--') && text.includes('-->', 4)) {
      text = text.slice(text.indexOf('-->', 4) + 3).trimStart();
    }
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
    // An icon holds several pictures, and browsers and the server may not pick the same one,
    // so a square chosen on the browser's could miss the server's: no square for icons.
    if (kind.accepted === 'ICO') return { bitmap: null, icon: true };
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

  /** Draws `square` (pixels of the upright picture) at 300×300, on white (transparent parts become white). */
  function drawPreview(canvas, bitmap, square) {
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, SIZE, SIZE);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, square.x, square.y, square.size, square.size, 0, 0, SIZE, SIZE);
  }

  // The picture is shown fitted in this box (CSS pixels), smaller on a narrow screen.
  const STAGE = { width: 420, height: 320 };
  // The smallest square, in pixels of the picture (or its short side, if shorter).
  const MIN_SIDE = 32;
  const FALLBACK = 'This browser cannot show this picture, so the centred square will be used.';
  const ICON_FALLBACK = 'An icon holds several pictures, so the centred square of the one Folio picks will be used.';
  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

  function element(tag, attributes = {}, text = '') {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text) node.textContent = text;
    return node;
  }

  /**
   * The square chooser: built beside the preview and hidden until a picture is shown. `show`
   * takes a decoded (upright) picture, `fallback` says the centred square will be used, `clear`
   * hides both. The numbers go in hidden fields of the form, present only while a square is
   * shown.
   */
  function cropper(form, preview, previewCanvas) {
    const wrap = element('div', { class: 'picture-crop', id: 'picture-crop' });
    const editor = element('div', { class: 'crop-editor', id: 'picture-crop-editor', hidden: '' });
    const stage = element('div', { class: 'crop-stage', id: 'picture-crop-stage' });
    const image = element('canvas', { class: 'crop-image', 'aria-hidden': 'true' });
    const square = element('div', {
      class: 'crop-square',
      id: 'picture-crop-square',
      tabindex: '0',
      role: 'application',
      'aria-label': 'Chosen square',
      'aria-describedby': 'picture-crop-help picture-crop-position',
    });
    const handle = element('div', { class: 'crop-handle', id: 'picture-crop-handle', 'aria-hidden': 'true' });
    const help = element(
      'p',
      { class: 'hint', id: 'picture-crop-help' },
      'Drag to move, drag the corner to resize; arrow keys move, + and − resize (hold Shift for bigger steps).',
    );
    // Always the current square, read with the square when it takes the focus.
    const position = element('span', { class: 'visually-hidden', id: 'picture-crop-position' });
    // Spoken after keyboard changes, once the keys rest.
    const status = element('p', { class: 'visually-hidden', id: 'picture-crop-status', 'aria-live': 'polite' });
    // In words, when the browser cannot show the picture.
    const note = element('p', { class: 'hint crop-note', id: 'picture-crop-note', role: 'status' });
    square.append(handle);
    stage.append(image, square);
    editor.append(stage, help, position, status);
    preview.before(note, wrap);
    wrap.append(editor, preview);

    const fields = ['crop_x', 'crop_y', 'crop_size'].map((name) =>
      element('input', { type: 'hidden', name }),
    );
    const anchor = form.querySelector('input[name=csrf_token]');

    let bitmap = null;
    let width = 0;
    let height = 0;
    let minSide = MIN_SIDE;
    let chosen = null; // { x, y, size } in pixels of the upright picture
    let drag = null;
    let announcing = null;

    const describe = ({ x, y, size }) =>
      `Square of ${size} by ${size} pixels, ${x} from the left and ${y} from the top, of a picture ${width} by ${height}.`;

    /** Moves the square, kept whole numbers, at least `minSide` and inside the picture. */
    function set(next) {
      const size = clamp(Math.round(next.size), minSide, Math.min(width, height));
      const x = clamp(Math.round(next.x), 0, width - size);
      const y = clamp(Math.round(next.y), 0, height - size);
      chosen = { x, y, size };
      square.style.left = `${(x / width) * 100}%`;
      square.style.top = `${(y / height) * 100}%`;
      square.style.width = `${(size / width) * 100}%`;
      square.style.height = `${(size / height) * 100}%`;
      fields[0].value = String(x);
      fields[1].value = String(y);
      fields[2].value = String(size);
      position.textContent = describe(chosen);
      drawPreview(previewCanvas, bitmap, chosen);
    }

    function announce() {
      clearTimeout(announcing);
      announcing = setTimeout(() => {
        if (chosen) status.textContent = describe(chosen);
      }, 500);
    }

    function clear() {
      bitmap?.close(); // its pixels are in the two canvases already
      bitmap = null;
      chosen = null;
      drag = null;
      clearTimeout(announcing);
      editor.hidden = true;
      note.textContent = '';
      status.textContent = '';
      for (const field of fields) field.remove();
    }

    function show(picture) {
      clear();
      bitmap = picture;
      width = picture.width;
      height = picture.height;
      const short = Math.min(width, height);
      minSide = Math.min(MIN_SIDE, short);
      const fit = Math.min(STAGE.width / width, STAGE.height / height);
      const ratio = Math.min(window.devicePixelRatio || 1, 2);
      image.width = Math.max(1, Math.round(width * fit * ratio));
      image.height = Math.max(1, Math.round(height * fit * ratio));
      image.style.width = `${width * fit}px`;
      // The instructions wrap at the picture's width (or a readable one), so the preview can
      // stand beside them.
      editor.style.width = `${Math.max(width * fit, 260)}px`;
      image.style.aspectRatio = `${width} / ${height}`;
      const ctx = image.getContext('2d');
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(picture, 0, 0, image.width, image.height);
      if (anchor) anchor.after(...fields);
      else form.prepend(...fields);
      // The largest centred square, as the server would keep without numbers.
      set({ x: (width - short) / 2, y: (height - short) / 2, size: short });
      editor.hidden = false;
    }

    function fallback(icon) {
      clear();
      note.textContent = icon ? ICON_FALLBACK : FALLBACK;
    }

    square.addEventListener('keydown', (event) => {
      if (!chosen || event.altKey || event.ctrlKey || event.metaKey) return;
      const short = Math.min(width, height);
      const step = Math.max(1, Math.round(short * (event.shiftKey ? 0.1 : 0.01)));
      const { x, y, size } = chosen;
      /** Grows (or shrinks) by `by` on every side, around the centre. */
      const grow = (by) => {
        const next = clamp(size + 2 * by, minSide, short);
        const shift = (next - size) / 2;
        return { x: x - shift, y: y - shift, size: next };
      };
      const moves = {
        ArrowLeft: { x: x - step, y, size },
        ArrowRight: { x: x + step, y, size },
        ArrowUp: { x, y: y - step, size },
        ArrowDown: { x, y: y + step, size },
        '+': grow(step),
        '=': grow(step),
        '-': grow(-step),
        '_': grow(-step),
        '−': grow(-step),
      };
      const next = moves[event.key];
      if (!next) return;
      event.preventDefault();
      set(next);
      announce();
    });

    // Mouse, pen and touch alike. Pressing beside the square brings it there.
    stage.addEventListener('pointerdown', (event) => {
      if (!chosen || event.button !== 0 || drag) return;
      event.preventDefault();
      const box = image.getBoundingClientRect();
      const scale = { x: width / box.width, y: height / box.height };
      const resizing = handle.contains(event.target);
      if (!square.contains(event.target)) {
        const at = {
          x: (event.clientX - box.left) * scale.x,
          y: (event.clientY - box.top) * scale.y,
        };
        set({ x: at.x - chosen.size / 2, y: at.y - chosen.size / 2, size: chosen.size });
      }
      drag = { id: event.pointerId, resizing, from: { ...chosen }, startX: event.clientX, startY: event.clientY, scale };
      stage.setPointerCapture(event.pointerId);
      stage.classList.add(resizing ? 'resizing' : 'moving');
      square.focus({ preventScroll: true });
    });
    stage.addEventListener('pointermove', (event) => {
      if (!drag || event.pointerId !== drag.id) return;
      const dx = (event.clientX - drag.startX) * drag.scale.x;
      const dy = (event.clientY - drag.startY) * drag.scale.y;
      const { x, y, size } = drag.from;
      if (drag.resizing) {
        // The top left corner stays; the corner in hand follows the pointer's larger move.
        const by = Math.abs(dx) > Math.abs(dy) ? dx : dy;
        set({ x, y, size: clamp(size + by, minSide, Math.min(width - x, height - y)) });
      } else {
        set({ x: x + dx, y: y + dy, size });
      }
    });
    const release = (event) => {
      if (!drag || event.pointerId !== drag.id) return;
      drag = null;
      stage.classList.remove('moving', 'resizing');
    };
    stage.addEventListener('pointerup', release);
    stage.addEventListener('pointercancel', release);
    stage.addEventListener('lostpointercapture', release);

    return { show, fallback, clear };
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
    const crop = cropper(form, preview, canvas);
    // With this script the square is chosen, not always the centred one.
    if (hint) {
      hint.textContent = hint.textContent.replace(
        'The centred square is kept, at 300×300.',
        'The square you choose (the centred one unless you move it) is kept, at 300×300.',
      );
    }

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
      crop.clear();
      if (!file) {
        checked = null;
        return;
      }
      checked = inspect(file, form).then((result) => {
        if (input.files[0] !== file) return result; // another file was chosen meanwhile
        if (result.error) {
          showError(result.error);
        } else if (result.bitmap) {
          crop.show(result.bitmap);
          preview.hidden = false;
        } else {
          crop.fallback(result.icon);
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
    // The whole picture, sources and all: a new src alone would lose to the old srcset.
    const navAvatar = document.getElementById('nav-avatar');
    const newNavAvatar = page.getElementById('nav-avatar');
    if (navAvatar && newNavAvatar) {
      const outer = (img) => img.closest('picture') || img;
      outer(navAvatar).replaceWith(document.importNode(outer(newNavAvatar), true));
    }
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
