import { expect } from 'chai';
import { countSegments } from '../../src/channels/segments.ts';

describe('SMS segments', () => {
  const gsm = (n: number) => 'a'.repeat(n);

  it('fits 160 GSM-7 characters in one segment and splits longer texts into 153s', () => {
    expect(countSegments('')).to.deep.equal({ encoding: 'GSM-7', segments: 0, units: 0 });
    expect(countSegments(gsm(160))).to.deep.equal({ encoding: 'GSM-7', segments: 1, units: 160 });
    expect(countSegments(gsm(161))).to.deep.equal({ encoding: 'GSM-7', segments: 2, units: 161 });
    expect(countSegments(gsm(306))).to.deep.equal({ encoding: 'GSM-7', segments: 2, units: 306 });
    expect(countSegments(gsm(307))).to.deep.equal({ encoding: 'GSM-7', segments: 3, units: 307 });
  });

  it('counts extension characters as two septets and never splits them', () => {
    expect(countSegments('€'.repeat(80))).to.deep.equal({ encoding: 'GSM-7', segments: 1, units: 160 });
    expect(countSegments(gsm(159) + '€')).to.deep.equal({ encoding: 'GSM-7', segments: 2, units: 161 });
    // 152 septets, then a two-septet character that must move whole to the next segment.
    expect(countSegments(gsm(152) + '{' + gsm(152))).to.deep.equal({ encoding: 'GSM-7', segments: 3, units: 306 });
    expect(countSegments('Café {ok} ^_^ à Ñ ¿')).to.include({ encoding: 'GSM-7', segments: 1 });
  });

  it('falls back to UCS-2 for any other character: 70, then 67 per segment', () => {
    expect(countSegments('ç' + gsm(69))).to.deep.equal({ encoding: 'UCS-2', segments: 1, units: 70 });
    expect(countSegments('ç' + gsm(70))).to.deep.equal({ encoding: 'UCS-2', segments: 2, units: 71 });
    expect(countSegments('Привет'.repeat(23) + 'П')).to.deep.equal({ encoding: 'UCS-2', segments: 3, units: 139 });
  });

  it('keeps surrogate pairs (emoji) whole', () => {
    expect(countSegments('😀'.repeat(35))).to.deep.equal({ encoding: 'UCS-2', segments: 1, units: 70 });
    // 66 units, then an emoji of two units that does not fit in the 67th: 134 units take 3 segments.
    expect(countSegments('x'.repeat(66) + '😀' + 'y'.repeat(66))).to.deep.equal({ encoding: 'UCS-2', segments: 3, units: 134 });
  });
});
