import {
  csvField,
  csvHeader,
  exportColumns,
  exportFileKey,
  exportProgress,
  formatRow,
  inFileOrder,
  sectionStart,
  statusAppliesTo,
} from '../../domain/exports';

describe('export format', () => {
  it('quotes CSV fields per RFC 4180 and writes nulls as empty fields', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(-12)).toBe('-12');
    expect(csvField(true)).toBe('true');
  });

  it('guards text a spreadsheet would run as a formula', () => {
    expect(csvField('=1+1')).toBe("'=1+1");
    expect(csvField('+33 1 23')).toBe("'+33 1 23");
    expect(csvField('-x')).toBe("'-x");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvField('\t=cmd')).toBe("'\t=cmd");
    expect(csvField('a=b')).toBe('a=b');
  });

  it('writes each entity’s columns in a fixed order, with entity first, CRLF-terminated', () => {
    const row = {
      id: 'v1',
      name: 'Acme, Ltd',
      region: 'north',
      capacity: 3,
      rating: 4.5,
      active: true,
      channel: 'EMAIL',
      contact: 'v@example.test',
      createdAt: new Date('2026-01-01T00:00:00Z'),
      updatedAt: new Date('2026-01-02T00:00:00Z'),
      ignored: 'not a column',
    };

    expect(csvHeader('vendors')).toBe(
      'entity,id,name,region,capacity,rating,active,channel,contact,createdAt,updatedAt\r\n',
    );
    expect(formatRow('csv', 'vendors', row)).toBe(
      'vendors,v1,"Acme, Ltd",north,3,4.5,true,EMAIL,v@example.test,2026-01-01T00:00:00.000Z,2026-01-02T00:00:00.000Z\r\n',
    );
    const line = formatRow('ndjson', 'vendors', row);
    expect(line.endsWith('\n')).toBe(true);
    expect(Object.keys(JSON.parse(line) as object)).toEqual(['entity', ...exportColumns.vendors]);
    expect(JSON.parse(line)).toMatchObject({
      entity: 'vendors',
      name: 'Acme, Ltd',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
  });

  it('separates CSV sections by an empty line; NDJSON has no sections', () => {
    expect(sectionStart('csv', 'orders', true)).toBe(csvHeader('orders'));
    expect(sectionStart('csv', 'vendors', false)).toBe(`\r\n${csvHeader('vendors')}`);
    expect(sectionStart('ndjson', 'vendors', false)).toBe('');
  });

  it('orders entities as the file does, whatever order they were asked in', () => {
    expect(inFileOrder(['notifications', 'orders', 'slots'])).toEqual(['slots', 'orders', 'notifications']);
  });

  it('applies a status filter only to entities that have that status', () => {
    expect(statusAppliesTo('orders', 'PAID')).toBe(true);
    expect(statusAppliesTo('slots', 'PAID')).toBe(false);
    expect(statusAppliesTo('vendors', 'PAID')).toBe(false);
  });

  it('names files by IDs only', () => {
    expect(exportFileKey('t-1', 'e-1', 'ndjson')).toBe('t-1/exports/e-1.ndjson');
  });

  it('computes percent and an ETA from the rate so far', () => {
    const startedAt = new Date('2026-01-01T00:00:00Z');
    expect(exportProgress(250, 1000, 10, startedAt, new Date('2026-01-01T00:00:10Z'))).toEqual({
      rowsDone: 250,
      rowsTotal: 1000,
      percent: 25,
      etaSeconds: 30,
      bytes: 10,
    });
    expect(exportProgress(0, 0, 0, null, new Date())).toMatchObject({ percent: 100, etaSeconds: null });
    expect(exportProgress(0, null, 0, null, new Date())).toMatchObject({ percent: null, etaSeconds: null });
  });
});
