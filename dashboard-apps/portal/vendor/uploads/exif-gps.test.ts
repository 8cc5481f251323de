// The EXIF GPS reader against real JPEGs written by sharp (libvips' EXIF writer), in both byte
// orders where we can make them, and against files that must give no position.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { exifReadBytes, gpsFromJpeg, readPhotoLocation } from './exif-gps.ts';

type Gps = Record<string, string>;

/** A small JPEG carrying the given GPS tags (sharp's IFD3 is EXIF's GPS IFD). */
async function jpegWith(gps: Gps | null, options: { big?: boolean } = {}) {
  const size = options.big ? { width: 1600, height: 1200 } : { width: 64, height: 48 };
  const image = sharp({ create: { ...size, channels: 3, background: '#336699', ...(options.big ? { noise: { type: 'gaussian' as const, mean: 120, sigma: 40 } } : {}) } });
  if (gps) image.withExif({ IFD0: { Make: 'Test Camera' }, IFD3: gps });
  return image.jpeg({ quality: 90 }).toBuffer();
}

const view = (buffer: Buffer) => new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
/** Sydney Opera House, south and east: 33°51'24.42" S 151°12'47.19" E. */
const sydney: Gps = { GPSLatitudeRef: 'S', GPSLatitude: '33/1 51/1 2442/100', GPSLongitudeRef: 'E', GPSLongitude: '151/1 12/1 4719/100' };

describe('reading where a photo was taken', () => {
  it('reads degrees, minutes and seconds with their hemispheres, and the accuracy', async () => {
    const photo = await jpegWith({ ...sydney, GPSHPositioningError: '13/2' });
    expect(gpsFromJpeg(view(photo))).toEqual({ lat: -33.8567833, lng: 151.2131083, accuracy_m: 6.5 });
  });

  it('reads north and west, without an accuracy', async () => {
    // New York, 40°41'21.4" N 74°02'40.2" W
    const photo = await jpegWith({ GPSLatitudeRef: 'N', GPSLatitude: '40/1 41/1 214/10', GPSLongitudeRef: 'W', GPSLongitude: '74/1 2/1 402/10' });
    expect(gpsFromJpeg(view(photo))).toEqual({ lat: 40.6892778, lng: -74.0445, accuracy_m: null });
  });

  it('reads a photo file (a Blob) as the portal gets it from the camera input', async () => {
    const photo = await jpegWith(sydney);
    expect(await readPhotoLocation(new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }))).toMatchObject({ lat: -33.8567833, lng: 151.2131083 });
  });

  it('finds the EXIF in the first bytes of a large photo', async () => {
    const photo = await jpegWith(sydney, { big: true });
    expect(photo.length).toBeGreaterThan(exifReadBytes);
    expect(await readPhotoLocation(new Blob([new Uint8Array(photo)]))).toMatchObject({ lat: -33.8567833 });
  });

  it('gives no position for photos without one or with one it cannot trust', async () => {
    expect(gpsFromJpeg(view(await jpegWith(null)))).toBeNull();
    // EXIF without GPS.
    expect(gpsFromJpeg(view(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).withExif({ IFD0: { Make: 'x' } }).jpeg().toBuffer()))).toBeNull();
    // The receiver said the fix was void.
    expect(gpsFromJpeg(view(await jpegWith({ ...sydney, GPSStatus: 'V' })))).toBeNull();
    // A zero denominator, a position without hemispheres, out of range, and "null island".
    expect(gpsFromJpeg(view(await jpegWith({ ...sydney, GPSLatitude: '33/0 51/1 0/1' })))).toBeNull();
    expect(gpsFromJpeg(view(await jpegWith({ GPSLatitude: '33/1 51/1 0/1', GPSLongitude: '151/1 12/1 0/1' })))).toBeNull();
    expect(gpsFromJpeg(view(await jpegWith({ ...sydney, GPSLatitude: '95/1 0/1 0/1' })))).toBeNull();
    expect(gpsFromJpeg(view(await jpegWith({ GPSLatitudeRef: 'N', GPSLatitude: '0/1 0/1 0/1', GPSLongitudeRef: 'E', GPSLongitude: '0/1 0/1 0/1' })))).toBeNull();
  });

  it('gives no position for files that are not JPEG or are cut short', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).png().toBuffer();
    expect(gpsFromJpeg(view(png))).toBeNull();
    expect(await readPhotoLocation(new Blob([new TextEncoder().encode('%PDF-1.4 not a photo')]))).toBeNull();
    const photo = await jpegWith(sydney);
    // Cut inside the GPS IFD: a RangeError inside, no position outside.
    expect(await readPhotoLocation(new Blob([new Uint8Array(photo.subarray(0, 120))]))).toBeNull();
    expect(await readPhotoLocation(new Blob([]))).toBeNull();
  });

  it('reads big-endian ("MM") EXIF too', async () => {
    const photo = await jpegWith(sydney);
    expect(gpsFromJpeg(view(toBigEndian(photo)))).toMatchObject({ lat: -33.8567833, lng: 151.2131083 });
  });
});

/**
 * The same JPEG with its EXIF rewritten in big-endian order: libvips writes little-endian, cameras
 * write either. Only the structures the reader walks are swapped (IFD0, the EXIF and GPS IFDs,
 * and the rationals and longs they point to).
 */
function toBigEndian(jpeg: Buffer): Buffer {
  const out = Buffer.from(jpeg);
  const app1 = out.indexOf(Buffer.from('Exif\0\0', 'latin1')) + 6;
  const le = new DataView(jpeg.buffer, jpeg.byteOffset + app1);
  const be = new DataView(out.buffer, out.byteOffset + app1);
  be.setUint16(0, 0x4d4d);
  be.setUint16(2, 42);
  be.setUint32(4, le.getUint32(4, true));
  const sizes: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8, 13: 4 };
  const walk = (offset: number) => {
    const count = le.getUint16(offset, true);
    be.setUint16(offset, count);
    for (let i = 0; i < count; i++) {
      const entry = offset + 2 + i * 12;
      const tag = le.getUint16(entry, true);
      const type = le.getUint16(entry + 2, true);
      const n = le.getUint32(entry + 4, true);
      be.setUint16(entry, tag);
      be.setUint16(entry + 2, type);
      be.setUint32(entry + 4, n);
      const size = (sizes[type] ?? 1) * n;
      const at = size <= 4 ? entry + 8 : le.getUint32(entry + 8, true);
      if (size > 4) be.setUint32(entry + 8, at);
      if (type === 3) for (let k = 0; k < n; k++) be.setUint16(at + k * 2, le.getUint16(at + k * 2, true));
      if (type === 4 || type === 13 || type === 9) for (let k = 0; k < n; k++) be.setUint32(at + k * 4, le.getUint32(at + k * 4, true));
      if (type === 5 || type === 10) for (let k = 0; k < n * 2; k++) be.setUint32(at + k * 4, le.getUint32(at + k * 4, true));
      if ((tag === 0x8825 || tag === 0x8769) && (type === 4 || type === 13)) walk(le.getUint32(entry + 8, true));
    }
    // The offset of the next IFD (IFD1, the thumbnail's) follows the entries.
    be.setUint32(offset + 2 + count * 12, le.getUint32(offset + 2 + count * 12, true));
  };
  walk(le.getUint32(4, true));
  return out;
}
