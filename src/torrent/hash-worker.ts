// placeholder: replaced by the hashing worker
export {};
