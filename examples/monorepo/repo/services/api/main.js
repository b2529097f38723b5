import { greeting } from '../../packages/greeting/dist/index.js';

console.log(greeting('api'));
