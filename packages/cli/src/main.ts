#!/usr/bin/env node
console.log('wharf');
