import { schedule } from '../../packages/clock/index.js';
import { greeting } from '../../packages/greeting/dist/index.js';

console.log(greeting('worker'), `(${schedule('cleanup')})`);
