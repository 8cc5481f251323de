export const notBuilt = (): never => {
  throw new Error('report not built yet');
};
