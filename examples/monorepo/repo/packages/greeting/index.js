export function greeting(service) {
  return `${service}: hello from the shared library`;
}
