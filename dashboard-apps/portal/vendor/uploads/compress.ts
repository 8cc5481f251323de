// Photo compression lives with the portals' shared pieces (the client portal shrinks request photos the same way).
export * from '../../shared/compress.ts';
