// Test pictures, made in the browser's own canvas: a photo-like JPEG, one with an EXIF
// orientation, four-coloured quadrants (also as a TIFF, written here), a real HEIC from the
// repository's fixtures, and files that only pretend to be pictures.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const FILES = fs.mkdtempSync(path.join(os.tmpdir(), 'folio-pictures-'));
process.on('exit', () => fs.rmSync(FILES, { recursive: true, force: true }));

// The repository's own test pictures (tests/fixtures).
const FIXTURES = path.resolve(__dirname, '..', '..', 'fixtures');

function save(name, bytes) {
  const file = path.join(FILES, name);
  fs.writeFileSync(file, bytes);
  return file;
}

/**
 * A landscape-like photo: a sky gradient, a sun, layered hills, and fine noise (so it
 * compresses like a photo, not like a drawing). `tint` shifts the sky, so two photos differ.
 * `noise` 0..1 adds grain; more grain, larger file. `leaves`: that many small leaf-like
 * strokes of many greens over the hills, detail that survives the shrink to 300×300 (grain
 * averages away), so that the stored JPEG weighs what a photo's does.
 */
async function photo(browser, { width = 1200, height = 800, tint = 0, noise = 0.15, quality = 0.9, leaves = 0, name } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const base64 = await page.evaluate(
    async ({ width, height, tint, noise, quality, leaves }) => {
      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext('2d');
      const sky = ctx.createLinearGradient(0, 0, 0, height * 0.6);
      sky.addColorStop(0, `hsl(${205 + tint}, 70%, 45%)`);
      sky.addColorStop(1, `hsl(${195 + tint}, 80%, 80%)`);
      ctx.fillStyle = sky;
      ctx.fillRect(0, 0, width, height);
      ctx.fillStyle = 'hsl(45, 100%, 70%)';
      ctx.beginPath();
      ctx.arc(width * 0.7, height * 0.25, Math.min(width, height) * 0.08, 0, Math.PI * 2);
      ctx.fill();
      for (let layer = 0; layer < 3; layer++) {
        ctx.fillStyle = `hsl(${110 + layer * 15}, ${45 - layer * 8}%, ${38 - layer * 8}%)`;
        ctx.beginPath();
        ctx.moveTo(0, height);
        for (let x = 0; x <= width; x += width / 40) {
          const y = height * (0.55 + layer * 0.12) + Math.sin(x / (90 + layer * 40) + layer) * height * 0.05;
          ctx.lineTo(x, y);
        }
        ctx.lineTo(width, height);
        ctx.fill();
      }
      let leafSeed = 7 + tint;
      const leafRandom = () => (leafSeed = (Math.imul(leafSeed, 1664525) + 1013904223) >>> 0) / 4294967296;
      for (let k = 0; k < leaves; k++) {
        const size = Math.min(width, height) * (0.004 + leafRandom() * 0.012);
        ctx.fillStyle = `hsl(${70 + leafRandom() * 70}, ${25 + leafRandom() * 45}%, ${12 + leafRandom() * 50}%)`;
        ctx.beginPath();
        ctx.ellipse(width * leafRandom(), height * (0.45 + leafRandom() * 0.55), size, size * 0.5, leafRandom() * Math.PI, 0, Math.PI * 2);
        ctx.fill();
      }
      // Grain, from a fixed-seed generator so the same call makes the same picture.
      const pixels = ctx.getImageData(0, 0, width, height);
      let seed = 42 + tint;
      const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
      for (let i = 0; i < pixels.data.length; i += 4) {
        const grain = (random() - 0.5) * 255 * noise;
        pixels.data[i] += grain;
        pixels.data[i + 1] += grain;
        pixels.data[i + 2] += grain;
      }
      ctx.putImageData(pixels, 0, 0);
      const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality });
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      return btoa(binary);
    },
    { width, height, tint, noise, quality, leaves },
  );
  await context.close();
  const bytes = Buffer.from(base64, 'base64');
  return name ? save(name, bytes) : bytes;
}

/**
 * A 600×300 JPEG whose stored pixels are: red margins left and right, and a centred 300×300
 * square that is yellow on top and blue below; tagged with EXIF `orientation`. Upright
 * (orientation 6: turn 90° clockwise), the kept square is blue on the left, yellow on the
 * right, with no red anywhere.
 */
async function orientedSquare(browser, orientation, name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const base64 = await page.evaluate(async () => {
    const canvas = new OffscreenCanvas(600, 300);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ff0000';
    ctx.fillRect(0, 0, 600, 300);
    ctx.fillStyle = '#ffdd00';
    ctx.fillRect(150, 0, 300, 150);
    ctx.fillStyle = '#0040ff';
    ctx.fillRect(150, 150, 300, 150);
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.95 });
    const bytes = new Uint8Array(await blob.arrayBuffer());
    return btoa(String.fromCharCode(...bytes));
  });
  await context.close();
  return save(name, withExifOrientation(Buffer.from(base64, 'base64'), orientation));
}

/** Inserts an APP1 Exif segment holding only the Orientation tag right after the JPEG's SOI. */
function withExifOrientation(jpeg, orientation) {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG');
  const tiff = Buffer.from([
    0x49, 0x49, 0x2a, 0x00, // "II", 42: little-endian TIFF
    0x08, 0x00, 0x00, 0x00, // first IFD at offset 8
    0x01, 0x00, // one entry
    0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, // tag 0x0112 Orientation, SHORT, count 1
    orientation, 0x00, 0x00, 0x00, // the value, padded
    0x00, 0x00, 0x00, 0x00, // no next IFD
  ]);
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(payload.length + 2);
  const app1 = Buffer.concat([Buffer.from([0xff, 0xe1]), length, payload]);
  return Buffer.concat([jpeg.subarray(0, 2), app1, jpeg.subarray(2)]);
}

/** The four colours of `quadrants`, as RGB: top left, top right, bottom left, bottom right. */
const QUADRANT_COLOURS = {
  topLeft: [230, 30, 30],
  topRight: [30, 170, 60],
  bottomLeft: [30, 70, 230],
  bottomRight: [250, 210, 20],
};

function quadrantAt(x, y, width, height) {
  const top = y < height / 2;
  const left = x < width / 2;
  if (top) return left ? QUADRANT_COLOURS.topLeft : QUADRANT_COLOURS.topRight;
  return left ? QUADRANT_COLOURS.bottomLeft : QUADRANT_COLOURS.bottomRight;
}

/**
 * A picture of four flat quadrants (`QUADRANT_COLOURS`), made in the browser's canvas:
 * `type` 'image/png' (default) or 'image/jpeg'.
 */
async function quadrants(browser, { width = 600, height = 400, type = 'image/png', name }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const base64 = await page.evaluate(
    async ({ width, height, type, colours }) => {
      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext('2d');
      const boxes = [
        [colours.topLeft, 0, 0],
        [colours.topRight, width / 2, 0],
        [colours.bottomLeft, 0, height / 2],
        [colours.bottomRight, width / 2, height / 2],
      ];
      for (const [[r, g, b], x, y] of boxes) {
        ctx.fillStyle = `rgb(${r}, ${g}, ${b})`;
        ctx.fillRect(x, y, width / 2, height / 2);
      }
      const blob = await canvas.convertToBlob({ type, quality: 0.95 });
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      return btoa(binary);
    },
    { width, height, type, colours: QUADRANT_COLOURS },
  );
  await context.close();
  return save(name, Buffer.from(base64, 'base64'));
}

/**
 * The same four quadrants as a baseline TIFF (uncompressed RGB, one strip), written here: a
 * format Folio takes that browsers cannot show.
 */
function quadrantsTiff({ width = 600, height = 400, name }) {
  const entries = [
    // tag, type (3 SHORT, 4 LONG), count, value
    [256, 4, 1, width], // ImageWidth
    [257, 4, 1, height], // ImageLength
    [258, 3, 3, null], // BitsPerSample: 8, 8, 8, at `bitsAt`
    [259, 3, 1, 1], // Compression: none
    [262, 3, 1, 2], // PhotometricInterpretation: RGB
    [273, 4, 1, null], // StripOffsets: `pixelsAt`
    [277, 3, 1, 3], // SamplesPerPixel
    [278, 4, 1, height], // RowsPerStrip
    [279, 4, 1, width * height * 3], // StripByteCounts
    [284, 3, 1, 1], // PlanarConfiguration: chunky
  ];
  const ifdAt = 8;
  const bitsAt = ifdAt + 2 + entries.length * 12 + 4;
  const pixelsAt = bitsAt + 6;
  const file = Buffer.alloc(pixelsAt + width * height * 3);
  file.write('II', 0, 'latin1');
  file.writeUInt16LE(42, 2);
  file.writeUInt32LE(ifdAt, 4);
  file.writeUInt16LE(entries.length, ifdAt);
  entries.forEach(([tag, type, count, value], i) => {
    const at = ifdAt + 2 + i * 12;
    file.writeUInt16LE(tag, at);
    file.writeUInt16LE(type, at + 2);
    file.writeUInt32LE(count, at + 4);
    const v = tag === 258 ? bitsAt : tag === 273 ? pixelsAt : value;
    if (type === 3 && count === 1) file.writeUInt16LE(v, at + 8);
    else file.writeUInt32LE(v, at + 8);
  });
  file.writeUInt32LE(0, ifdAt + 2 + entries.length * 12); // no next IFD
  for (let i = 0; i < 3; i++) file.writeUInt16LE(8, bitsAt + i * 2);
  let at = pixelsAt;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = quadrantAt(x, y, width, height);
      file[at++] = r;
      file[at++] = g;
      file[at++] = b;
    }
  }
  return save(name, file);
}

/** The colours of the HEIC fixture's quadrants, as RGB (tests/fixtures/make_heic.py). */
const HEIC_COLOURS = {
  topLeft: [255, 0, 0],
  topRight: [0, 255, 0],
  bottomLeft: [0, 0, 255],
  bottomRight: [255, 255, 0],
};

/**
 * A real HEIC file, as a phone would send it: `tests/fixtures/heic-8bit-420.heic` (128×96,
 * 8-bit 4:2:0 HEVC by heif-enc/x265, four quadrants: `HEIC_COLOURS`). Folio takes it; Chromium
 * cannot show it.
 */
function heic(name = 'IMG_0001.HEIC') {
  return save(name, fs.readFileSync(path.join(FIXTURES, 'heic-8bit-420.heic')));
}

/** Files that are not pictures Folio takes, by their content. */
const notPictures = {
  svg: () =>
    save(
      'drawing.svg',
      '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>\n',
    ),
  pdf: () =>
    save(
      'scan.pdf',
      '%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n',
    ),
  textAsJpeg: () => save('notes.jpg', 'Shopping list: bread, milk, a new profile picture.\n'),
};

/** A JPEG cut off half way: its header is right, its pixels are missing. */
function truncated(jpeg, name) {
  return save(name, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
}

module.exports = {
  photo,
  orientedSquare,
  withExifOrientation,
  quadrants,
  quadrantsTiff,
  QUADRANT_COLOURS,
  heic,
  HEIC_COLOURS,
  notPictures,
  truncated,
  save,
};
