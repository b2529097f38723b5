// A second workspace package, used by the worker only: its changes reach no other service's context.
export const schedule = (job) => `${job} every minute`;
