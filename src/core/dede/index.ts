// Public API of the DeDe decoder module.
export * from './config';
export * from './init';
export * from './mask';
export * from './model';
export * from './params';
export * from './rng';
export * from './train-step';
export * from './train-loop';
export * from './scores';
export * from './scorer';
export * from './decoder-file';
export * from './calibrate';
export * from './metrics';
export * from './collapse';
export * from './fusion';
export * from './set-scan';
export * from './reveal';
