// Where a photo was taken, for accounts that want it: the portal reads the position from the
// photo's own EXIF on the phone (the compressed file carries none) and sends it beside the file.
// Off by default: the position is stored only when the account keeps it.
//
//   dispatch_settings  keep_photo_location
//   job_artifacts      taken_lat, taken_lng, taken_accuracy_m (null: not known or not kept)
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('dispatch_settings', (t) => {
    t.boolean('keep_photo_location').notNullable().defaultTo(false);
  });
  await knex.schema.alterTable('job_artifacts', (t) => {
    t.double('taken_lat');
    t.double('taken_lng');
    t.double('taken_accuracy_m');
    t.check('taken_lat is null or taken_lat between -90 and 90', [], 'job_artifacts_taken_lat');
    t.check('taken_lng is null or taken_lng between -180 and 180', [], 'job_artifacts_taken_lng');
    // A position is both halves or none; an accuracy only with a position.
    t.check('(taken_lat is null) = (taken_lng is null)', [], 'job_artifacts_taken_position');
    t.check('taken_accuracy_m is null or (taken_lat is not null and taken_accuracy_m >= 0)', [], 'job_artifacts_taken_accuracy');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('job_artifacts', (t) => {
    t.dropChecks(['job_artifacts_taken_lat', 'job_artifacts_taken_lng', 'job_artifacts_taken_position', 'job_artifacts_taken_accuracy']);
    t.dropColumn('taken_accuracy_m');
    t.dropColumn('taken_lng');
    t.dropColumn('taken_lat');
  });
  await knex.schema.alterTable('dispatch_settings', (t) => t.dropColumn('keep_photo_location'));
}
