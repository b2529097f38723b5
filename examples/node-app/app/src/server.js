import { createServer } from 'node:http';
import { greeting } from 'greeting';

const port = Number(process.env.PORT ?? 3000);
createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end(`${greeting('node-app')} on ${process.version}\n`);
}).listen(port, () => console.log(`listening on ${port}`));
