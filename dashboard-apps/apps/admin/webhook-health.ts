// The answer of GET /api/v1/admin/webhook-health, as the admin app reads it.
export interface WebhookHealth {
  webhook_url: string | null;
  webhook_registered_at: string | null;
  last_accepted_at: string | null;
  failing: { since: string; refused: number; reason: string; reasons: string[]; last_refused_at: string } | null;
  refusals: Array<{ reason: string; refused: number; first_refused_at: string; last_refused_at: string }>;
}
