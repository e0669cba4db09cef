import { describe, expect, it } from 'vitest';
import { parsePipConfigList, uvSourceFlags } from '../../src/toolchain/pip-config.js';

// `pip config list` output as this kind of machine prints it: files, then PIP_* variables.
const LISTED = `:env:.find-links='/opt/wheels'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/opt/elsewhere'
global.index-url='https://mirror.example/simple'
install.index-url='https://install-mirror.example/simple'
global.cert='/etc/ssl/certs/ca-certificates.crt'`;

describe('user pip configuration handed to uv', () => {
  it('keeps pip precedence: PIP_* over install over global, lists split on whitespace', () => {
    expect(parsePipConfigList(LISTED)).toEqual({
      indexUrl: 'https://install-mirror.example/simple',
      extraIndexUrls: ['file:///opt/pypi/simple', 'file:///opt/pypi-more/simple'],
      findLinks: ['/opt/wheels'],
    });
  });

  it('becomes uv flags with pip\'s best-match strategy across indexes', () => {
    expect(uvSourceFlags(parsePipConfigList(LISTED))).toEqual([
      '--index-url', 'https://install-mirror.example/simple',
      '--extra-index-url', 'file:///opt/pypi/simple',
      '--extra-index-url', 'file:///opt/pypi-more/simple',
      '--find-links', '/opt/wheels',
      '--index-strategy', 'unsafe-best-match',
    ]);
  });

  it('adds nothing when pip is not configured', () => {
    expect(uvSourceFlags(parsePipConfigList(''))).toEqual([]);
  });
});
