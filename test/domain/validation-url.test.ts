import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { storedValidationUrlsProblem, validationUrlProblem } from '../../src/domain/validation-url.js';

describe('validation service URLs', () => {
  it('take an http(s) URL without a user or password', () => {
    expect(validationUrlProblem('https://api.yubico.com/wsapi/2.0/verify')).toBeNull();
    expect(validationUrlProblem('http://127.0.0.1:8080/wsapi/2.0/verify')).toBeNull();
    expect(validationUrlProblem('https://u:pw@yk.example.com/')).toBe('credentials');
    // Proxmox imports keep a client name in the query: no user of the URL.
    expect(validationUrlProblem('https://yk.example.com/wsapi/2.0/verify?client=pve@corp')).toBeNull();
    expect(validationUrlProblem('ftp://yk.example.com/')).toBe('not-http');
    expect(validationUrlProblem('not a url')).toBe('not-http');
  });

  it('read a stored list as set-yubico writes it, and say what is wrong with any other without repeating it', () => {
    expect(storedValidationUrlsProblem('["https://a.example/v","https://b.example/v"]')).toBeNull();
    expect(storedValidationUrlsProblem('["https://x')).toBe('its validation URLs are not JSON');
    expect(storedValidationUrlsProblem('[]')).toBe('its validation URLs are not a list of one or more URLs');
    expect(storedValidationUrlsProblem('{"a":1}')).toBe('its validation URLs are not a list of one or more URLs');
    expect(storedValidationUrlsProblem('[1]')).toBe('its validation URLs are not a list of one or more URLs');
    fc.assert(
      fc.property(fc.string(), (text) => {
        const problem = storedValidationUrlsProblem(text);
        if (problem !== null) expect(problem).not.toContain('SECRET');
      }),
    );
    expect(storedValidationUrlsProblem('["https://u:SECRET@h/"]')).toBe('a validation URL holds a user or password');
  });
});
