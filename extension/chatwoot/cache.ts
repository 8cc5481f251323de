// Moved: the contact and conversation caches live in modules/conversations/cache.ts. This
// re-export keeps older imports working until they are updated.
export * from '../modules/conversations/cache.ts';
