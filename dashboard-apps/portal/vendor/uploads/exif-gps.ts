// Where a photo was taken, read from the GPS tags of its EXIF, on the phone, before the photo is
// re-encoded without any EXIF (compress.ts). Only JPEG (what phone cameras hand to a browser) and
// only the few GPS tags we use: a small reader we can read through, instead of a general EXIF
// library. Loaded on demand (import()) by the upload queue, only for accounts that keep positions.
//
// The layout, from the EXIF 2.3 / TIFF 6.0 specifications:
//   JPEG   FFD8, then segments FFxx + 2-byte big-endian length (which counts itself); EXIF lives in
//          the APP1 segment (FFE1) whose data starts with "Exif\0\0".
//   TIFF   after that header: "II" (little-endian) or "MM" (big-endian), the number 42, and the
//          offset of the first IFD. Every offset below counts from the start of this TIFF header.
//   IFD    a 2-byte entry count, then 12-byte entries: tag (2), type (2), count (4), and the value
//          itself when it fits in 4 bytes, else the offset of the value.
//   IFD0's tag 0x8825 holds the offset of the GPS IFD, whose tags are:
//          1 GPSLatitudeRef  ASCII 'N' | 'S'       2 GPSLatitude   3 RATIONALs: degrees, minutes, seconds
//          3 GPSLongitudeRef ASCII 'E' | 'W'       4 GPSLongitude  3 RATIONALs
//          9 GPSStatus       ASCII 'A' (measuring) | 'V' (void: no fix)
//          31 GPSHPositioningError  RATIONAL, metres
//   A RATIONAL is two unsigned 4-byte numbers, numerator then denominator.

export interface PhotoLocation {
  lat: number;
  lng: number;
  /** Horizontal error in metres, when the camera wrote it. */
  accuracy_m: number | null;
}

/** How much of the file is read: EXIF sits at the start, and one APP1 segment is at most 64 KB. */
export const exifReadBytes = 256 * 1024;

const typeAscii = 2;
const typeLong = 4;
/** TIFF's "IFD" type, which some writers use for the GPS pointer instead of LONG. */
const typeIfd = 13;
const typeRational = 5;

/** Reads the position from a photo file (only its first bytes); null when it has none we trust. */
export async function readPhotoLocation(file: Blob): Promise<PhotoLocation | null> {
  try {
    return gpsFromJpeg(new DataView(await file.slice(0, exifReadBytes).arrayBuffer()));
  } catch {
    // A file we cannot read is simply a photo without a position.
    return null;
  }
}

/** The GPS position in a JPEG's EXIF, or null (not a JPEG, no EXIF, no GPS, a void or odd fix). */
export function gpsFromJpeg(view: DataView): PhotoLocation | null {
  const tiff = findExif(view);
  if (tiff === null) return null;
  const order = view.getUint16(tiff);
  if (order !== 0x4949 && order !== 0x4d4d) return null; // "II" or "MM"
  const reader = new TiffReader(view, tiff, order === 0x4949);
  if (reader.u16(2) !== 42) return null;
  const ifd0 = reader.entries(reader.u32(4));
  const gpsPointer = ifd0.get(0x8825);
  if (!gpsPointer || (gpsPointer.type !== typeLong && gpsPointer.type !== typeIfd)) return null;
  const gps = reader.entries(reader.u32(gpsPointer.valueAt));

  if (reader.ascii(gps.get(9)) === 'V') return null; // the receiver said the measurement is void
  const latRef = reader.ascii(gps.get(1));
  const lngRef = reader.ascii(gps.get(3));
  const lat = reader.degrees(gps.get(2));
  const lng = reader.degrees(gps.get(4));
  if (lat === null || lng === null || !['N', 'S'].includes(latRef ?? '') || !['E', 'W'].includes(lngRef ?? '')) return null;
  if (lat > 90 || lng > 180) return null;
  // 0,0 is what some cameras write when they had no fix at all ("null island"): not a place.
  if (lat === 0 && lng === 0) return null;
  const error = gps.get(31);
  const accuracy = error && error.type === typeRational && error.count === 1 ? reader.rational(error.valueAt) : null;
  return {
    lat: round(latRef === 'S' ? -lat : lat, 7),
    lng: round(lngRef === 'W' ? -lng : lng, 7),
    accuracy_m: accuracy !== null && accuracy < 10_000 ? round(accuracy, 1) : null,
  };
}

/** The offset of the TIFF header inside the first APP1 "Exif" segment, or null. */
function findExif(view: DataView): number | null {
  if (view.byteLength < 4 || view.getUint16(0) !== 0xffd8) return null;
  let at = 2;
  while (at + 4 <= view.byteLength) {
    if (view.getUint8(at) !== 0xff) return null; // lost: not a segment start
    const marker = view.getUint8(at + 1);
    if (marker === 0xff) {
      at += 1; // fill byte before a marker
      continue;
    }
    // Start of scan or end of image: the image data follows, no more metadata segments.
    if (marker === 0xda || marker === 0xd9) return null;
    const length = view.getUint16(at + 2);
    if (length < 2) return null;
    const data = at + 4;
    if (marker === 0xe1 && data + 6 <= view.byteLength && ascii(view, data, 6) === 'Exif\0\0') return data + 6;
    at += 2 + length;
  }
  return null;
}

interface Entry { type: number; count: number; /** Where the value is: inside the entry when small, else at its offset. */ valueAt: number }

/** Reads numbers from a TIFF block in its own byte order; offsets are relative to its header. */
class TiffReader {
  constructor(
    private view: DataView,
    private base: number,
    private little: boolean,
  ) {}

  u16(offset: number) {
    return this.view.getUint16(this.base + offset, this.little);
  }

  u32(offset: number) {
    return this.view.getUint32(this.base + offset, this.little);
  }

  /** An IFD's entries by tag (a malformed or cut-off IFD throws a RangeError: no position). */
  entries(offset: number): Map<number, Entry> {
    const found = new Map<number, Entry>();
    const count = this.u16(offset);
    for (let i = 0; i < count; i++) {
      const entry = offset + 2 + i * 12;
      const type = this.u16(entry + 2);
      const itemCount = this.u32(entry + 4);
      const size = (type === typeRational ? 8 : type === typeLong || type === typeIfd ? 4 : type === 3 ? 2 : 1) * itemCount;
      found.set(this.u16(entry), { type, count: itemCount, valueAt: size <= 4 ? entry + 8 : this.u32(entry + 8) });
    }
    return found;
  }

  /** The first character of an ASCII value (the refs and status are one letter and a NUL). */
  ascii(entry: Entry | undefined): string | null {
    if (!entry || entry.type !== typeAscii || entry.count < 1) return null;
    return String.fromCharCode(this.view.getUint8(this.base + entry.valueAt));
  }

  rational(offset: number): number | null {
    const denominator = this.u32(offset + 4);
    return denominator === 0 ? null : this.u32(offset) / denominator;
  }

  /** Degrees, minutes and seconds as three RATIONALs, as decimal degrees. */
  degrees(entry: Entry | undefined): number | null {
    if (!entry || entry.type !== typeRational || entry.count !== 3) return null;
    const [d, m, s] = [0, 1, 2].map((i) => this.rational(entry.valueAt + i * 8));
    if (d === null || d === undefined || m === null || m === undefined || s === null || s === undefined) return null;
    if (m >= 60 || s >= 60) return null;
    return d + m / 60 + s / 3600;
  }
}

function ascii(view: DataView, at: number, length: number) {
  let text = '';
  for (let i = 0; i < length; i++) text += String.fromCharCode(view.getUint8(at + i));
  return text;
}

function round(value: number, digits: number) {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
