// The parts of the portal's job (the server's PortalJob) that the photo section reads.
export interface RequiredPhoto { tag: string; label: string; min: number; have: number }
export interface JobArtifact {
  id: string;
  kind: string;
  filename: string;
  content_type: string;
  tag: string | null;
  url: string;
  thumbnail_url: string | null;
  created_at: string;
  taken_at: string | null;
}
export interface PhotoJob {
  id: string;
  required_photos: RequiredPhoto[];
  artifacts: JobArtifact[];
  /** The account keeps where photos were taken: their position is read on the phone and sent. */
  keep_photo_location?: boolean;
}
