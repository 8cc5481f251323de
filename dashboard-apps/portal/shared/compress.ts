// Shared by the portals (vendor photos and messages, client service requests).
// Photos are shrunk on the phone before they are stored or sent: the long side to at most 2048 px,
// turned upright by the browser from the EXIF orientation (createImageBitmap 'from-image'), and
// re-encoded as JPEG — the new file carries no EXIF at all, so no GPS position leaves inside it
// (an account that keeps positions gets one read beforehand, sent beside the file: queue.ts).
// Documents (PDF) and images the browser cannot decode are kept as they are.

export const maxLongSide = 2048;
export const jpegQuality = 0.82;

export interface Prepared {
  blob: Blob;
  filename: string;
  content_type: string;
  kind: 'photo' | 'document';
}

export async function prepareFile(file: File): Promise<Prepared> {
  if (!file.type.startsWith('image/')) {
    return { blob: file, filename: file.name || 'document', content_type: file.type || 'application/octet-stream', kind: 'document' };
  }
  try {
    return { blob: await compressImage(file), filename: jpegName(file.name), content_type: 'image/jpeg', kind: 'photo' };
  } catch {
    // Not decodable here (e.g. HEIC on some browsers): send the original; the server decides.
    return { blob: file, filename: file.name || 'photo', content_type: file.type, kind: 'photo' };
  }
}

export async function compressImage(file: Blob): Promise<Blob> {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  try {
    const scale = Math.min(1, maxLongSide / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    if (typeof OffscreenCanvas !== 'undefined') {
      const canvas = new OffscreenCanvas(width, height);
      const context = canvas.getContext('2d');
      if (!context) throw new Error('no 2d canvas');
      context.imageSmoothingQuality = 'high';
      context.drawImage(bitmap, 0, 0, width, height);
      return await canvas.convertToBlob({ type: 'image/jpeg', quality: jpegQuality });
    }
    const canvas = Object.assign(document.createElement('canvas'), { width, height });
    const context = canvas.getContext('2d');
    if (!context) throw new Error('no 2d canvas');
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, 0, 0, width, height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('encoding failed'))), 'image/jpeg', jpegQuality),
    );
  } finally {
    bitmap.close();
  }
}

function jpegName(name: string) {
  const base = (name || 'photo').replace(/\.[^.]*$/, '') || 'photo';
  return `${base}.jpg`;
}
